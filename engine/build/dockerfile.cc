#include "engine/build/dockerfile.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "engine/base/ascii.h"
#include "engine/base/units.h"
#include "engine/build/dockerfile_lines.h"
#include "engine/build/dockerfile_words.h"

namespace slipway {
namespace {

struct CommandInfo {
  Command command;
  std::string_view name;
};

constexpr std::array<CommandInfo, 18> kCommands = {{
    {Command::kFrom, "FROM"},
    {Command::kRun, "RUN"},
    {Command::kCmd, "CMD"},
    {Command::kEntrypoint, "ENTRYPOINT"},
    {Command::kCopy, "COPY"},
    {Command::kAdd, "ADD"},
    {Command::kEnv, "ENV"},
    {Command::kArg, "ARG"},
    {Command::kLabel, "LABEL"},
    {Command::kExpose, "EXPOSE"},
    {Command::kWorkdir, "WORKDIR"},
    {Command::kUser, "USER"},
    {Command::kVolume, "VOLUME"},
    {Command::kStopSignal, "STOPSIGNAL"},
    {Command::kShell, "SHELL"},
    {Command::kHealthcheck, "HEALTHCHECK"},
    {Command::kOnbuild, "ONBUILD"},
    {Command::kMaintainer, "MAINTAINER"},
}};

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The first word of `text` and what follows it (left-trimmed).
std::pair<std::string_view, std::string_view> SplitFirstWord(std::string_view text) {
  size_t end = 0;
  while (end < text.size() && !IsSpace(text[end])) ++end;
  std::string_view rest = text.substr(end);
  while (!rest.empty() && IsSpace(rest.front())) rest.remove_prefix(1);
  return {text.substr(0, end), rest};
}

std::optional<Command> LookupCommand(std::string_view upper) {
  for (const CommandInfo& info : kCommands) {
    if (info.name == upper) return info.command;
  }
  return std::nullopt;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "unknown instruction: RUNN (did you mean RUN?)", as Docker suggests.
Status UnknownInstruction(const std::string& keyword) {
  std::string message = "unknown instruction: " + keyword;
  size_t allowed = keyword.size() >= 5 ? 2 : 1;
  for (const CommandInfo& info : kCommands) {
    if (EditDistance(keyword, info.name) <= allowed) {
      message += " (did you mean " + std::string(info.name) + "?)";
      break;
    }
  }
  return InvalidArgument(message);
}

Status Requires(const Instruction& inst, const std::string& what) {
  return InvalidArgument(inst.keyword + " requires " + what);
}

// ---- flags -----------------------------------------------------------------

enum class FlagType { kString, kBool };

struct FlagSpec {
  std::string_view name;
  FlagType type;
};

std::vector<FlagSpec> FlagsOf(Command command) {
  switch (command) {
    case Command::kFrom: return {{"platform", FlagType::kString}};
    case Command::kRun: return {{"network", FlagType::kString}};
    case Command::kCopy:
      return {{"from", FlagType::kString},
              {"chown", FlagType::kString},
              {"chmod", FlagType::kString},
              {"link", FlagType::kBool}};
    case Command::kAdd:
      return {{"chown", FlagType::kString}, {"chmod", FlagType::kString}, {"link", FlagType::kBool}};
    case Command::kHealthcheck:
      return {{"interval", FlagType::kString},
              {"timeout", FlagType::kString},
              {"start-period", FlagType::kString},
              {"start-interval", FlagType::kString},
              {"retries", FlagType::kString}};
    default: return {};
  }
}

Status UnknownFlag(const Instruction& inst, const std::string& name, const std::vector<FlagSpec>& specs) {
  std::string accepted;
  for (const FlagSpec& spec : specs) {
    accepted += (accepted.empty() ? "" : ", ") + ("--" + std::string(spec.name));
  }
  return InvalidArgument("unknown flag: --" + name + " (" + inst.keyword +
                         (accepted.empty() ? " takes no flags)" : " accepts " + accepted + ")"));
}

Result<std::string> FlagValue(const FlagSpec& spec, std::string_view body, size_t eq) {
  std::string name(spec.name);
  if (spec.type == FlagType::kString) {
    if (eq == std::string_view::npos || eq + 1 == body.size()) {
      return InvalidArgument("missing a value on flag: --" + name);
    }
    return std::string(body.substr(eq + 1));
  }
  if (eq == std::string_view::npos) return std::string("true");
  std::string value = Lower(body.substr(eq + 1));
  if (value != "true" && value != "false") {
    return InvalidArgument("expecting boolean value for flag --" + name +
                           ", not: " + std::string(body.substr(eq + 1)));
  }
  return value;
}

Status ParseFlags(Instruction& inst, const std::vector<std::string>& words) {
  std::vector<FlagSpec> specs = FlagsOf(inst.command);
  for (const std::string& word : words) {
    std::string_view body = std::string_view(word).substr(2);
    size_t eq = body.find('=');
    std::string name(body.substr(0, eq));
    auto spec = std::find_if(specs.begin(), specs.end(), [&](const FlagSpec& s) { return s.name == name; });
    if (spec == specs.end()) return UnknownFlag(inst, name, specs);
    if (inst.flags.count(name) != 0) return InvalidArgument("duplicate flag specified: --" + name);
    SLIPWAY_ASSIGN_OR_RETURN(std::string value, FlagValue(*spec, body, eq));
    inst.flags[name] = std::move(value);
  }
  std::optional<std::string> network = inst.Flag("network");
  if (network && *network != "default" && *network != "none" && *network != "host") {
    return InvalidArgument("unsupported network mode \"" + *network +
                           "\" for RUN --network: want default, none or host");
  }
  return Status::Ok();
}

// ---- arguments ---------------------------------------------------------------

// The line splitter read one heredoc per marker of a RUN, COPY or ADD line;
// markers without one are in a trigger (ONBUILD RUN <<EOF), where BuildKit
// does not read heredocs either.
Status CheckHeredocs(const Instruction& inst, const std::vector<std::string>& words) {
  size_t markers = 0;
  std::string first;
  for (const std::string& word : words) {
    if (!ParseHeredocMarker(word)) continue;
    if (markers++ == 0) first = word;
  }
  if (markers == inst.heredocs.size()) return Status::Ok();
  return InvalidArgument("heredoc " + first + " has no content: heredocs work in RUN, COPY and ADD lines, " +
                         "not in ONBUILD triggers");
}

// JSON exec form or shell form; `rest` never empty here.
Status ParseMaybeJson(Instruction& inst, std::string_view rest, bool split_shell_form, char escape) {
  std::vector<std::string> json;
  switch (ParseJsonArray(rest, &json)) {
    case JsonArray::kNotStrings:
      return InvalidArgument("when using JSON array syntax, arrays must be comprised of strings only");
    case JsonArray::kStrings:
      inst.args = std::move(json);
      inst.json_form = true;
      return Status::Ok();
    case JsonArray::kNotJson: break;
  }
  if (split_shell_form) {
    inst.args = SplitRawWords(rest, escape);
  } else if (!rest.empty()) {
    inst.args = {std::string(rest)};
  }
  return Status::Ok();
}

// RUN, CMD, ENTRYPOINT, SHELL.
Status ParseCommandLine(Instruction& inst, std::string_view rest, char escape) {
  SLIPWAY_RETURN_IF_ERROR(ParseMaybeJson(inst, rest, false, escape));
  if (inst.command == Command::kShell && !inst.args.empty() && !inst.json_form) {
    return Requires(inst, "the arguments to be in JSON form");
  }
  // `CMD []` and `ENTRYPOINT []` clear what the base image set.
  bool may_be_empty =
      inst.json_form && (inst.command == Command::kCmd || inst.command == Command::kEntrypoint);
  if (inst.args.empty() && !may_be_empty) return Requires(inst, "at least one argument");
  if (inst.command == Command::kRun && !inst.json_form)
    return CheckHeredocs(inst, SplitRawWords(rest, escape));
  return Status::Ok();
}

// COPY, ADD, VOLUME.
Status ParseList(Instruction& inst, std::string_view rest, char escape) {
  SLIPWAY_RETURN_IF_ERROR(ParseMaybeJson(inst, rest, true, escape));
  if (inst.command == Command::kVolume) {
    if (inst.args.empty()) return Requires(inst, "at least one argument");
    for (const std::string& arg : inst.args) {
      if (Trim(arg).empty()) return InvalidArgument("VOLUME specified can not be an empty string");
    }
    return Status::Ok();
  }
  if (inst.args.size() == 1) {
    return Requires(inst,
                    "at least two arguments, but only one was provided. Destination could not be determined");
  }
  if (inst.args.empty()) return Requires(inst, "at least two arguments");
  if (inst.json_form) return Status::Ok();
  if (ParseHeredocMarker(inst.args.back()))
    return InvalidArgument(inst.keyword + ": the destination cannot be a heredoc");
  return CheckHeredocs(inst, inst.args);
}

Status ParseFrom(Instruction& inst, std::string_view rest, char escape) {
  inst.args = SplitRawWords(rest, escape);
  if (inst.args.size() == 3 && Lower(inst.args[1]) == "as") {
    std::string name = Lower(inst.args[2]);
    bool valid = name[0] >= 'a' && name[0] <= 'z' && std::all_of(name.begin(), name.end(), [](char c) {
                   return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
                 });
    if (!valid) {
      return InvalidArgument("invalid name for build stage: \"" + inst.args[2] +
                             "\", name can't start with a number or contain symbols");
    }
    return Status::Ok();
  }
  if (inst.args.size() != 1) return Requires(inst, "either one or three arguments");
  return Status::Ok();
}

// ENV and LABEL: `K=V ...`, or the legacy `K V` (the value is the rest).
Status ParseKeyValues(Instruction& inst, std::string_view rest, char escape) {
  std::vector<std::string> words = SplitRawWords(rest, escape);
  if (words.empty()) return Requires(inst, "at least one argument");
  if (words[0].find('=') == std::string::npos) {
    auto [key, value] = SplitFirstWord(rest);
    if (value.empty()) return InvalidArgument(inst.keyword + " must have two arguments");
    inst.pairs.push_back(KeyValue{std::string(key), std::string(value)});
    return Status::Ok();
  }
  for (const std::string& word : words) {
    size_t eq = word.find('=');
    if (eq == std::string::npos) {
      return InvalidArgument("Syntax error - can't find = in \"" + word +
                             "\". Must be of the form: name=value");
    }
    if (eq == 0) return InvalidArgument(inst.keyword + " names can not be blank");
    inst.pairs.push_back(KeyValue{word.substr(0, eq), word.substr(eq + 1)});
  }
  return Status::Ok();
}

Status ParseArg(Instruction& inst, std::string_view rest, char escape) {
  std::vector<std::string> words = SplitRawWords(rest, escape);
  if (words.empty()) return Requires(inst, "at least one argument");
  for (const std::string& word : words) {
    size_t eq = word.find('=');
    if (eq == 0) return InvalidArgument("ARG names can not be blank");
    if (eq == std::string::npos) {
      inst.pairs.push_back(KeyValue{word, std::nullopt});
    } else {
      inst.pairs.push_back(KeyValue{word.substr(0, eq), word.substr(eq + 1)});
    }
  }
  return Status::Ok();
}

Status ParseExpose(Instruction& inst, std::string_view rest, char escape) {
  inst.args = SplitRawWords(rest, escape);
  if (inst.args.empty()) return Requires(inst, "at least one argument");
  for (const std::string& port : inst.args) {
    // Words with variables, quotes or escapes are checked once expanded.
    bool literal = std::all_of(port.begin(), port.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '-';
    });
    if (literal) SLIPWAY_RETURN_IF_ERROR(ValidatePortSpec(port));
  }
  return Status::Ok();
}

// WORKDIR, USER, STOPSIGNAL, MAINTAINER: the rest of the line is the value.
Status ParseSingle(Instruction& inst, std::string_view rest) {
  if (rest.empty()) return Requires(inst, "exactly one argument");
  inst.args = {std::string(rest)};
  return Status::Ok();
}

Status CheckHealthcheckFlags(const Instruction& inst) {
  for (const char* name : {"interval", "timeout", "start-period", "start-interval"}) {
    std::optional<std::string> value = inst.Flag(name);
    if (!value || *value == "0" || *value == "0s") continue;
    Result<std::chrono::milliseconds> duration = ParseDuration(*value);
    if (!duration.ok()) return duration.status().Wrap(std::string("HEALTHCHECK --") + name);
  }
  std::optional<std::string> retries = inst.Flag("retries");
  if (retries && (!AllDigits(*retries) || retries->size() > 9)) {
    return InvalidArgument("HEALTHCHECK --retries must be a non-negative integer, not \"" + *retries + "\"");
  }
  return Status::Ok();
}

Status ParseHealthcheck(Instruction& inst, std::string_view rest, char escape) {
  if (rest.empty()) return Requires(inst, "at least one argument");
  auto [type_word, command] = SplitFirstWord(rest);
  std::string type = Upper(type_word);
  if (type == "NONE") {
    if (!command.empty() || !inst.flags.empty()) {
      return InvalidArgument("HEALTHCHECK NONE takes no arguments");
    }
    inst.args = {"NONE"};
    return Status::Ok();
  }
  if (type != "CMD") return InvalidArgument("Unknown type \"" + type + "\" in HEALTHCHECK (try CMD)");
  SLIPWAY_RETURN_IF_ERROR(ParseMaybeJson(inst, command, false, escape));
  if (inst.args.empty()) return InvalidArgument("Missing command after HEALTHCHECK CMD");
  inst.args.insert(inst.args.begin(), inst.json_form ? "CMD" : "CMD-SHELL");
  return CheckHealthcheckFlags(inst);
}

Result<Instruction> ParseInstruction(std::string_view text, char escape, std::vector<Heredoc> heredocs = {});

Result<Instruction> ParseTriggerText(std::string_view text, char escape) {
  std::string trigger = Upper(SplitFirstWord(Trim(text)).first);
  if (trigger == "ONBUILD") return InvalidArgument("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  if (trigger == "FROM" || trigger == "MAINTAINER") {
    return InvalidArgument(trigger + " isn't allowed as an ONBUILD trigger");
  }
  return ParseInstruction(text, escape);
}

Status ParseOnbuild(Instruction& inst, std::string_view rest, char escape) {
  if (rest.empty()) return Requires(inst, "at least one argument");
  SLIPWAY_RETURN_IF_ERROR(ParseTriggerText(rest, escape).status());
  inst.args = {std::string(rest)};
  return Status::Ok();
}

Status ParseArgs(Instruction& inst, std::string_view rest, char escape) {
  switch (inst.command) {
    case Command::kFrom: return ParseFrom(inst, rest, escape);
    case Command::kRun:
    case Command::kCmd:
    case Command::kEntrypoint:
    case Command::kShell: return ParseCommandLine(inst, rest, escape);
    case Command::kCopy:
    case Command::kAdd:
    case Command::kVolume: return ParseList(inst, rest, escape);
    case Command::kEnv:
    case Command::kLabel: return ParseKeyValues(inst, rest, escape);
    case Command::kArg: return ParseArg(inst, rest, escape);
    case Command::kExpose: return ParseExpose(inst, rest, escape);
    case Command::kWorkdir:
    case Command::kUser:
    case Command::kStopSignal:
    case Command::kMaintainer: return ParseSingle(inst, rest);
    case Command::kHealthcheck: return ParseHealthcheck(inst, rest, escape);
    case Command::kOnbuild: return ParseOnbuild(inst, rest, escape);
  }
  return Internal("unhandled instruction " + inst.keyword);
}

// One instruction from its logical line; errors without the file:line prefix.
Result<Instruction> ParseInstruction(std::string_view text, char escape, std::vector<Heredoc> heredocs) {
  text = Trim(text);
  auto [word, after] = SplitFirstWord(text);
  std::string keyword = Upper(word);
  std::optional<Command> command = LookupCommand(keyword);
  if (!command) return UnknownInstruction(keyword);
  Instruction inst;
  inst.command = *command;
  inst.keyword = keyword;
  inst.original = std::string(text);
  inst.heredocs = std::move(heredocs);
  FlagWords flags = ExtractFlags(after);
  SLIPWAY_RETURN_IF_ERROR(ParseFlags(inst, flags.flags));
  SLIPWAY_RETURN_IF_ERROR(ParseArgs(inst, Trim(flags.rest), escape));
  return inst;
}

// ---- stages ----------------------------------------------------------------

std::string StageLabel(const Stage& stage) {
  return stage.name.empty() ? "stage-" + std::to_string(stage.index) : stage.name;
}

Status AddToStages(Dockerfile& df, Instruction inst) {
  if (inst.command == Command::kFrom) {
    Stage stage;
    stage.index = static_cast<int>(df.stages.size());
    stage.base = inst.args[0];
    if (inst.args.size() == 3) stage.name = Lower(inst.args[2]);
    if (!stage.name.empty() && df.FindStage(stage.name) != nullptr) {
      return ErrorAt(df.filename, inst.line, InvalidArgument("duplicate stage name \"" + stage.name + "\""));
    }
    stage.from = std::move(inst);
    df.stages.push_back(std::move(stage));
  } else if (!df.stages.empty()) {
    df.stages.back().instructions.push_back(std::move(inst));
  } else if (inst.command == Command::kArg) {
    df.global_args.push_back(std::move(inst));
  } else {
    return ErrorAt(df.filename, inst.line,
                   InvalidArgument("no build stage in current context: " + inst.keyword +
                                   " must come after a FROM (only ARG may come before the first FROM)"));
  }
  return Status::Ok();
}

// COPY --from values without variables are checked now, before anything runs.
Status CheckCopyFrom(const Dockerfile& df) {
  for (const Stage& stage : df.stages) {
    for (const Instruction& inst : stage.instructions) {
      std::optional<std::string> from = inst.Flag("from");
      if (inst.command != Command::kCopy || !from || from->find('$') != std::string::npos) continue;
      Result<StageRef> ref = ResolveCopyFrom(df, stage.index, *from);
      if (!ref.ok()) return ErrorAt(df.filename, inst.line, ref.status());
    }
  }
  return Status::Ok();
}

}  // namespace

std::string_view CommandName(Command command) {
  for (const CommandInfo& info : kCommands) {
    if (info.command == command) return info.name;
  }
  return "?";
}

bool ExpandsVariables(Command command) {
  switch (command) {
    case Command::kAdd:
    case Command::kCopy:
    case Command::kEnv:
    case Command::kExpose:
    case Command::kFrom:
    case Command::kLabel:
    case Command::kStopSignal:
    case Command::kUser:
    case Command::kVolume:
    case Command::kWorkdir:
    case Command::kArg: return true;
    default: return false;
  }
}

bool SplitsExpandedWords(Command command) {
  return command == Command::kExpose;
}

std::optional<std::string> Instruction::Flag(std::string_view name) const {
  auto it = flags.find(name);
  if (it == flags.end()) return std::nullopt;
  return it->second;
}

const Stage* Dockerfile::FindStage(std::string_view name) const {
  std::string lower = Lower(name);
  for (const Stage& stage : stages) {
    if (!stage.name.empty() && stage.name == lower) return &stage;
  }
  return nullptr;
}

Result<Dockerfile> ParseDockerfile(std::string_view text, const std::string& filename) {
  SLIPWAY_ASSIGN_OR_RETURN(DockerfileLines lines, SplitDockerfileLines(text, filename));
  if (lines.lines.empty()) return InvalidArgument(filename + ": file with no instructions");
  Dockerfile df;
  df.filename = filename;
  df.escape = lines.escape;
  df.syntax = std::move(lines.syntax);
  for (const LogicalLine& line : lines.lines) {
    Result<Instruction> inst = ParseInstruction(line.text, df.escape, line.heredocs);
    if (!inst.ok()) return ErrorAt(filename, line.line, inst.status());
    inst->line = line.line;
    inst->end_line = line.end_line;
    SLIPWAY_RETURN_IF_ERROR(AddToStages(df, std::move(inst).value()));
  }
  if (df.stages.empty()) return InvalidArgument(filename + ": no FROM instruction: nothing to build");
  SLIPWAY_RETURN_IF_ERROR(CheckCopyFrom(df));
  return df;
}

Result<Instruction> ParseTrigger(std::string_view text, char escape) {
  if (Trim(text).empty()) return InvalidArgument("empty ONBUILD trigger");
  return ParseTriggerText(text, escape);
}

StageRef ResolveFromBase(const Dockerfile& dockerfile, int stage_index, std::string_view base) {
  int limit = std::min(stage_index, static_cast<int>(dockerfile.stages.size()));
  std::string lower = Lower(base);
  for (int i = 0; i < limit; ++i) {
    const Stage& stage = dockerfile.stages[i];
    if (!stage.name.empty() && stage.name == lower) return StageRef{StageRef::Kind::kStage, i, ""};
  }
  if (base == "scratch") return StageRef{StageRef::Kind::kScratch, -1, ""};
  return StageRef{StageRef::Kind::kImage, -1, std::string(base)};
}

Result<StageRef> ResolveCopyFrom(const Dockerfile& dockerfile, int stage_index, std::string_view from) {
  int count = static_cast<int>(dockerfile.stages.size());
  int index = -1;
  if (AllDigits(from)) {
    index = from.size() > 9 ? count : std::stoi(std::string(from));
    if (index >= count) return InvalidArgument("invalid stage index " + std::string(from));
  } else if (const Stage* stage = dockerfile.FindStage(from)) {
    index = stage->index;
  } else if (from == "scratch") {
    return StageRef{StageRef::Kind::kScratch, -1, ""};
  } else {
    return StageRef{StageRef::Kind::kImage, -1, std::string(from)};
  }
  if (index == stage_index) {
    return InvalidArgument("circular dependency detected on stage: " + StageLabel(dockerfile.stages[index]));
  }
  if (index > stage_index) {
    return InvalidArgument("COPY --from=" + std::string(from) + " names a later stage (" +
                           StageLabel(dockerfile.stages[index]) +
                           "); stages are built in order, move it above this one");
  }
  return StageRef{StageRef::Kind::kStage, index, ""};
}

Status ValidatePortSpec(std::string_view spec) {
  auto bad = [&] {
    return InvalidArgument("invalid port \"" + std::string(spec) + "\": want PORT[-PORT][/tcp|udp|sctp]");
  };
  std::string_view ports = spec;
  size_t slash = spec.find('/');
  if (slash != std::string_view::npos) {
    std::string proto = Lower(spec.substr(slash + 1));
    if (proto != "tcp" && proto != "udp" && proto != "sctp") return bad();
    ports = spec.substr(0, slash);
  }
  size_t dash = ports.find('-');
  std::string_view first = ports.substr(0, dash);
  std::string_view last = dash == std::string_view::npos ? first : ports.substr(dash + 1);
  for (std::string_view port : {first, last}) {
    if (!AllDigits(port) || port.size() > 5 || std::stoi(std::string(port)) > 65535) return bad();
  }
  if (std::stoi(std::string(first)) > std::stoi(std::string(last))) return bad();
  return Status::Ok();
}

Status ErrorAt(const std::string& filename, int line, const Status& why) {
  return Status(why.code(), filename + ":" + std::to_string(line) + ": " + why.message());
}

}  // namespace slipway
