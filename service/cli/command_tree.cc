#include "service/cli/command_tree.h"

#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

#include "service/version/version.h"

namespace slipway::cli {
namespace {

// Visible subcommands: CLI11 hides those in the group "".
std::vector<const CLI::App*> Children(const CLI::App& app) {
  std::vector<const CLI::App*> out;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (!sub->get_group().empty()) out.push_back(sub);
  }
  return out;
}

// Every visible command with its path below the root ("" for the root).
void Walk(const CLI::App& app, const std::string& path,
          const std::function<void(const CLI::App&, const std::string&)>& visit) {
  visit(app, path);
  for (const CLI::App* sub : Children(app))
    Walk(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), visit);
}

// Long and short names of the options (not positionals) of `app`.
std::string OptionWords(const CLI::App& app) {
  std::string out = "--help";
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->get_positional()) continue;
    for (const std::string& l : opt->get_lnames()) {
      if (l != "help") out += " --" + l;
    }
    for (const std::string& s : opt->get_snames()) {
      if (s != "h") out += " -" + s;
    }
  }
  return out;
}

std::string SubcommandWords(const CLI::App& app) {
  std::string out;
  for (const CLI::App* sub : Children(app)) out += (out.empty() ? "" : " ") + sub->get_name();
  return out;
}

// Text for roff: no line may start with '.' or '\'', backslashes escaped.
std::string Roff(const std::string& text) {
  std::string out;
  bool line_start = true;
  for (char c : text) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
    line_start = c == '\n';
  }
  return out;
}

}  // namespace

std::string BashCompletion(const CLI::App& root) {
  std::string subcommands, options;
  Walk(root, "", [&](const CLI::App& app, const std::string& path) {
    std::string subs = SubcommandWords(app);
    if (!subs.empty()) subcommands += "    \"" + path + "\") echo \"" + subs + "\" ;;\n";
    options += "    \"" + path + "\") echo \"" + OptionWords(app) + "\" ;;\n";
  });
  return "# bash completion for slipway " + std::string(kVersion) +
         ", generated from its command tree by `slipway completion bash`.\n"
         "_slipway_subcommands() {\n"
         "  case \"$1\" in\n" +
         subcommands +
         "  esac\n"
         "}\n"
         "_slipway_options() {\n"
         "  case \"$1\" in\n" +
         options +
         "  esac\n"
         "}\n"
         "_slipway() {\n"
         "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" path=\"\" word i subs\n"
         "  # The command path so far: words that name a subcommand of the path before them.\n"
         "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
         "    word=\"${COMP_WORDS[i]}\"\n"
         "    subs=\" $(_slipway_subcommands \"$path\") \"\n"
         "    [[ \"$word\" != -* && \"$subs\" == *\" $word \"* ]] && path=\"${path:+$path }$word\"\n"
         "  done\n"
         "  if [[ \"$cur\" == -* ]]; then\n"
         "    COMPREPLY=($(compgen -W \"$(_slipway_options \"$path\")\" -- \"$cur\"))\n"
         "    return\n"
         "  fi\n"
         "  subs=\"$(_slipway_subcommands \"$path\")\"\n"
         "  if [[ -n \"$subs\" ]]; then\n"
         "    COMPREPLY=($(compgen -W \"$subs\" -- \"$cur\"))\n"
         "  else\n"
         "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
         "  fi\n"
         "}\n"
         "complete -F _slipway slipway\n";
}

std::string ManPage(const CLI::App& root) {
  std::string out = ".TH SLIPWAY 1 \"\" \"slipway " + std::string(kVersion) + "\" \"Slipway\"\n";
  out += ".SH NAME\nslipway \\- " + Roff(root.get_description()) + "\n";
  out +=
      ".SH SYNOPSIS\n.B slipway\n[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGS\\fR]\n";
  out +=
      ".SH DESCRIPTION\n"
      "slipway is the client of slipwayd(8): every command is a request to its REST API, "
      "authenticated by the control token. The sections below are each command's "
      "\\fB\\-\\-help\\fR text.\n";
  Walk(root, "", [&](const CLI::App& app, const std::string& path) {
    out += path.empty() ? ".SH GLOBAL OPTIONS\n" : ".SS slipway " + path + "\n";
    out += ".nf\n" + Roff(const_cast<CLI::App&>(app).help()) + ".fi\n";
  });
  out +=
      ".SH ENVIRONMENT\n"
      ".TP\n.B SLIPWAY_HOST\nslipwayd's URL (default http://127.0.0.1:7780), as \\fB\\-\\-host\\fR.\n"
      ".TP\n.B SLIPWAY_TOKEN_FILE\nThe control token file, as \\fB\\-\\-token\\-file\\fR.\n";
  out +=
      ".SH FILES\n.TP\n.B /var/lib/slipway/control.token\n"
      "The control token (root's, mode 0600): whoever reads it controls slipwayd.\n";
  out +=
      ".SH EXIT STATUS\n"
      "\\fBslipway run\\fR exits with the command's exit code (128 + signal if a signal ended it), "
      "124 when \\fB\\-\\-timeout\\fR killed it, 125 for Slipway's own errors, 126 and 127 as a shell "
      "does.\n";
  out += ".SH SEE ALSO\nslipwayd(8), /usr/share/doc/slipway/\n";
  return out;
}

void AddCompletionCommand(CLI::App& app, Verbs& verbs) {
  CLI::App* cmd =
      app.add_subcommand("completion", "Print a bash completion script (or, with man, the manual)");
  auto kind = std::make_shared<std::string>("bash");
  cmd->add_option("kind", *kind, "bash (the default) or man")->check(CLI::IsMember({"bash", "man"}));
  const CLI::App* root = &app;
  verbs.push_back({cmd, nullptr, [root, kind]() {
                     std::fputs((*kind == "man" ? ManPage(*root) : BashCompletion(*root)).c_str(), stdout);
                     return 0;
                   }});
}

}  // namespace slipway::cli
