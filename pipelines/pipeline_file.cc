#include "pipelines/pipeline_file.h"

#include <algorithm>
#include <initializer_list>
#include <string_view>

#include "engine/base/units.h"
#include "engine/oci/reference.h"
#include "pipelines/tag_template.h"

namespace slipway::pipelines {

namespace {

using Kind = YamlNode::Kind;

// Nesting: a pipeline file needs 5 levels (steps, a step, when, branch);
// 32 leaves room for any schema to come. Nodes: a step is some 30 nodes, so
// 100000 is thousands of steps, and bounds what aliases can make of 1 MiB.
constexpr YamlLimits kLimits{
    .max_bytes = kMaxPipelineFileBytes,
    .max_depth = 32,
    .max_nodes = 100'000,
    .max_copied_bytes = 4 * kMaxPipelineFileBytes,
};

// A linter's list, not a log: past this many errors the rest are counted.
constexpr size_t kMaxErrors = 100;

// The largest pid limit Linux takes (PID_MAX_LIMIT on 64-bit).
constexpr int64_t kMaxPids = 4'194'304;

std::string Join(std::initializer_list<std::string_view> words) {
  std::string out;
  for (std::string_view w : words) out += (out.empty() ? "" : ", ") + std::string(w);
  return out;
}

bool IsAsciiLetter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsAsciiDigit(char c) {
  return c >= '0' && c <= '9';
}

// `s` is not empty, its first character passes `first` and the rest `rest`.
template <typename First, typename Rest>
bool IsWord(std::string_view s, First first, Rest rest) {
  return !s.empty() && first(s[0]) && std::all_of(s.begin() + 1, s.end(), rest);
}

// Step and service names become parts of container names and labels.
bool IsName(std::string_view s) {
  auto alnum = [](char c) { return IsAsciiLetter(c) || IsAsciiDigit(c); };
  return s.size() <= 63 &&
         IsWord(s, alnum, [&](char c) { return alnum(c) || c == '_' || c == '.' || c == '-'; });
}

bool IsVariableName(std::string_view s) {
  auto letter = [](char c) { return IsAsciiLetter(c) || c == '_'; };
  return IsWord(s, letter, [&](char c) { return letter(c) || IsAsciiDigit(c); });
}

// SLIPWAY_* describe the run; a step cannot be told otherwise. CI may be
// set (the example sets it to "true", as slipway does anyway).
bool IsReserved(std::string_view name) {
  return name.starts_with("SLIPWAY_");
}

// A path below the workspace: relative, and no ".." to climb out of it.
bool IsInsidePath(std::string_view path) {
  if (path.empty() || path[0] == '/') return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (path.substr(start, end - start) == "..") return false;
    start = end + 1;
  }
  return true;
}

// Reads the tree against the schema; every reader reports what is wrong
// with its node and returns nullopt (or leaves the default), so that one
// pass finds every error.
class Reader {
 public:
  explicit Reader(std::vector<FileError>* errors) : errors_(errors) {}

  void Error(SourceLocation at, const std::string& path, const std::string& message) {
    errors_->push_back({at, path.empty() ? message : path + ": " + message});
  }
  void Error(const YamlNode& node, const std::string& path, const std::string& message) {
    Error(node.at, path, message);
  }

  bool Expect(const YamlNode& node, const std::string& path, Kind kind, const char* want) {
    if (node.kind == kind) return true;
    Error(node, path, std::string("want ") + want + ", got " + KindName(node));
    return false;
  }

  // A mapping's values by key; a key not in `known` is an error.
  using Fields = std::map<std::string, const YamlNode*>;
  std::optional<Fields> Mapping(const YamlNode& node, const std::string& path,
                                std::initializer_list<std::string_view> known) {
    if (!Expect(node, path, Kind::kMapping, "a mapping")) return std::nullopt;
    Fields fields;
    for (const auto& [key, value] : node.entries) {
      if (std::find(known.begin(), known.end(), key.text) == known.end()) {
        Error(key, path, "unknown key " + Quote(key.text) + " (known: " + Join(known) + ")");
        continue;
      }
      fields[key.text] = &value;
    }
    return fields;
  }

  std::optional<std::string> String(const YamlNode& node, const std::string& path) {
    if (!Expect(node, path, Kind::kScalar, "a string")) return std::nullopt;
    if (node.text.empty()) {
      Error(node, path, "must not be empty");
      return std::nullopt;
    }
    return node.text;
  }

  std::optional<std::vector<std::string>> Strings(const YamlNode& node, const std::string& path) {
    if (!Expect(node, path, Kind::kSequence, "a list of strings")) return std::nullopt;
    std::vector<std::string> out;
    bool ok = true;
    for (size_t i = 0; i < node.items.size(); ++i) {
      auto s = String(node.items[i], path + "[" + std::to_string(i) + "]");
      if (s) out.push_back(*s);
      ok = ok && s.has_value();
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // `env` and `args`: variable names to strings.
  std::map<std::string, std::string> Variables(const YamlNode& node, const std::string& path,
                                               bool reserved_ok) {
    std::map<std::string, std::string> out;
    if (!Expect(node, path, Kind::kMapping, "a mapping of names to strings")) return out;
    for (const auto& [key, value] : node.entries) {
      if (!IsVariableName(key.text)) {
        Error(key, path, Quote(key.text) + " is not a variable name ([A-Za-z_][A-Za-z0-9_]*)");
      } else if (!reserved_ok && IsReserved(key.text)) {
        Error(key, path, Quote(key.text) + " is reserved: slipway sets SLIPWAY_* for every step");
      }
      // Any scalar, as written: `CI: true` is the string "true".
      if (Expect(value, path + "." + key.text, Kind::kScalar, "a string")) out[key.text] = value.text;
    }
    return out;
  }

  // A whole number written as one (not quoted), from `min` to `max`.
  std::optional<int64_t> Integer(const YamlNode& node, const std::string& path, int64_t min, int64_t max) {
    if (!Expect(node, path, Kind::kScalar, "a number")) return std::nullopt;
    std::optional<int64_t> n = node.quoted ? std::nullopt : ParseInt(node.text);
    if (!n || *n < min || *n > max) {
      Error(node, path,
            "want a whole number from " + std::to_string(min) + " to " + std::to_string(max) + ", got " +
                (node.quoted ? "the quoted string " : "") + Quote(node.text));
      return std::nullopt;
    }
    return n;
  }

  std::optional<std::chrono::milliseconds> Duration(const YamlNode& node, const std::string& path) {
    if (!Expect(node, path, Kind::kScalar, "a duration (e.g. 30s, 10m)")) return std::nullopt;
    auto d = ParseDuration(node.text);
    if (!d.ok()) Error(node, path, d.status().message());
    return d.ok() ? std::optional(*d) : std::nullopt;
  }

  std::string Image(const YamlNode& node, const std::string& path) {
    auto text = String(node, path);
    if (!text) return "";
    if (auto ref = ParseReference(*text); !ref.ok()) Error(node, path, ref.status().message());
    return *text;
  }

  std::string InsidePath(const YamlNode& node, const std::string& path) {
    auto text = String(node, path);
    if (text && !IsInsidePath(*text)) {
      Error(node, path, Quote(*text) + ": want a relative path that does not climb out with \"..\"");
    }
    return text.value_or("");
  }

  // `reports`: a list of globs below the workspace (test_report.h).
  std::vector<std::string> Reports(const YamlNode& list, const std::string& path) {
    std::vector<std::string> out;
    if (!Expect(list, path, Kind::kSequence, "a list of paths")) return out;
    for (size_t i = 0; i < list.items.size(); ++i) {
      out.push_back(InsidePath(list.items[i], path + "[" + std::to_string(i) + "]"));
    }
    return out;
  }

  // `true` or `false`, unquoted (YAML 1.1's yes/no/on/off are not booleans here).
  std::optional<bool> Bool(const YamlNode& node, const std::string& path) {
    if (!Expect(node, path, Kind::kScalar, "true or false")) return std::nullopt;
    if (!node.quoted && node.text == "true") return true;
    if (!node.quoted && node.text == "false") return false;
    Error(
        node, path,
        "want true or false, got " + std::string(node.quoted ? "the quoted string " : "") + Quote(node.text));
    return std::nullopt;
  }

  std::vector<std::string> Commands(const YamlNode& node, const std::string& path) {
    auto commands = Strings(node, path);
    if (commands && commands->empty()) Error(node, path, "want at least one command");
    return commands.value_or(std::vector<std::string>{});
  }

 private:
  std::vector<FileError>* errors_;
};

std::optional<Build> ReadBuild(Reader& r, const YamlNode& node) {
  auto f = r.Mapping(node, "build", {"dockerfile", "context", "args"});
  if (!f) return std::nullopt;
  Build b;
  if (auto it = f->find("dockerfile"); it != f->end())
    b.dockerfile = r.InsidePath(*it->second, "build.dockerfile");
  if (auto it = f->find("context"); it != f->end()) b.context = r.InsidePath(*it->second, "build.context");
  if (auto it = f->find("args"); it != f->end()) b.args = r.Variables(*it->second, "build.args", true);
  return b;
}

std::optional<ReadyCheck> ReadReady(Reader& r, const YamlNode& node, const std::string& path) {
  auto f = r.Mapping(node, path, {"tcp", "command", "timeout"});
  if (!f) return std::nullopt;
  ReadyCheck check;
  bool tcp = f->count("tcp"), command = f->count("command");
  if (tcp == command) r.Error(node, path, "want exactly one of \"tcp\" (a port) and \"command\"");
  if (tcp) check.tcp_port = r.Integer(*f->at("tcp"), path + ".tcp", 1, 65535);
  if (command) check.command = r.String(*f->at("command"), path + ".command").value_or("");
  if (f->count("timeout")) {
    if (auto d = r.Duration(*f->at("timeout"), path + ".timeout")) check.timeout = *d;
  }
  return check;
}

// Nodes of a service or step, for the errors found across the lists.
struct ItemNodes {
  const YamlNode* item = nullptr;
  const YamlNode* name = nullptr;
  const YamlNode* image = nullptr;
  const YamlNode* depends_on = nullptr;
};

// The keys services and steps share: name, image, commands, env. Returns
// whether `key` was one of them.
template <typename Item>
bool ReadSharedKey(Reader& r, const std::string& key, const YamlNode& value, const std::string& path,
                   ItemNodes* nodes, Item& item) {
  if (key == "name") {
    nodes->name = &value;
    item.name = r.String(value, path).value_or("");
    if (!item.name.empty() && !IsName(item.name)) {
      r.Error(value, path, Quote(item.name) + " is not a name ([A-Za-z0-9][A-Za-z0-9_.-]*, at most 63)");
    }
  } else if (key == "image") {
    nodes->image = &value;
    item.image = r.Image(value, path);
  } else if (key == "commands") {
    item.commands = r.Commands(value, path);
  } else if (key == "env") {
    item.env = r.Variables(value, path, false);
  } else {
    return false;
  }
  return true;
}

Service ReadService(Reader& r, const YamlNode& node, const std::string& path, ItemNodes* nodes) {
  Service s;
  s.at = node.at;
  auto f = r.Mapping(node, path, {"name", "image", "commands", "env", "ready"});
  if (!f) return s;
  nodes->item = &node;
  if (!f->count("name")) r.Error(node, path, "missing key \"name\"");
  for (const auto& [key, value] : *f) {
    std::string p = path + "." + key;
    if (ReadSharedKey(r, key, *value, p, nodes, s)) continue;
    if (key == "ready") s.ready = ReadReady(r, *value, p);
  }
  return s;
}

Step ReadStep(Reader& r, const YamlNode& node, const std::string& path, ItemNodes* nodes) {
  Step s;
  s.at = node.at;
  auto f = r.Mapping(node, path,
                     {"name", "image", "commands", "env", "secrets", "timeout", "memory", "cpus", "pids",
                      "depends_on", "when", "reports"});
  if (!f) return s;
  nodes->item = &node;
  for (const char* required : {"name", "commands"}) {
    if (!f->count(required)) r.Error(node, path, "missing key " + Quote(required));
  }
  for (const auto& [key, value] : *f) {
    std::string p = path + "." + key;
    const YamlNode& v = *value;
    if (ReadSharedKey(r, key, v, p, nodes, s)) {
      continue;
    } else if (key == "secrets") {
      if (auto names = r.Strings(v, p)) {
        for (size_t i = 0; i < names->size(); ++i) {
          const std::string& name = (*names)[i];
          std::string pi = p + "[" + std::to_string(i) + "]";
          if (!IsVariableName(name)) {
            r.Error(v.items[i], pi, Quote(name) + " is not a variable name ([A-Za-z_][A-Za-z0-9_]*)");
          } else if (IsReserved(name)) {
            r.Error(v.items[i], pi, Quote(name) + " is reserved: slipway sets SLIPWAY_* for every step");
          }
        }
        s.secrets = *names;
        // `env` is read already: the fields come in key order.
        for (size_t i = 0; i < names->size(); ++i) {
          if (f->count("env") && s.env.count((*names)[i])) {
            r.Error(v.items[i], p + "[" + std::to_string(i) + "]",
                    Quote((*names)[i]) + " is also set in env");
          }
        }
      }
    } else if (key == "timeout") {
      s.timeout = r.Duration(v, p);
    } else if (key == "memory") {
      if (r.Expect(v, p, Kind::kScalar, "a size (e.g. 512m)")) {
        auto bytes = ParseBytes(v.text);
        if (bytes.ok())
          s.memory_bytes = *bytes;
        else
          r.Error(v, p, bytes.status().message());
      }
    } else if (key == "cpus") {
      if (r.Expect(v, p, Kind::kScalar, "a number of CPUs (e.g. 0.5)")) {
        auto millicpus = v.quoted ? Result<int64_t>(InvalidArgument("")) : ParseCpus(v.text);
        if (millicpus.ok())
          s.millicpus = *millicpus;
        else
          r.Error(v, p, "want a number of CPUs, at least 0.01 (e.g. 0.5 or 2), got " + Quote(v.text));
      }
    } else if (key == "pids") {
      s.pids = r.Integer(v, p, 1, kMaxPids);
    } else if (key == "reports") {
      s.reports = r.Reports(v, p);
    } else if (key == "depends_on") {
      nodes->depends_on = &v;
      s.depends_on = r.Strings(v, p);
      if (!s.depends_on) s.depends_on.emplace();  // given, if wrong: no default chaining either
    } else if (key == "when") {
      auto w = r.Mapping(v, p, {"branch", "tag", "event"});
      if (!w) continue;
      if (w->count("branch"))
        s.when.branches = r.Strings(*w->at("branch"), p + ".branch").value_or(std::vector<std::string>{});
      if (w->count("tag"))
        s.when.tags = r.Strings(*w->at("tag"), p + ".tag").value_or(std::vector<std::string>{});
      if (w->count("event")) {
        const YamlNode& events = *w->at("event");
        auto names = r.Strings(events, p + ".event");
        for (size_t i = 0; names && i < names->size(); ++i) {
          if (auto e = ParseEvent((*names)[i])) {
            s.when.events.push_back(*e);
          } else {
            r.Error(events.items[i], p + ".event[" + std::to_string(i) + "]",
                    "unknown event " + Quote((*names)[i]) + " (known: push, tag, pull_request, manual)");
          }
        }
      }
    }
  }
  return s;
}

// Globs of `promote.branches` and `promote.tags_match`: GlobMatches's,
// without what fnmatch would take in a way nobody means.
std::vector<std::string> Globs(Reader& r, const YamlNode& node, const std::string& path) {
  auto globs = r.Strings(node, path);
  for (size_t i = 0; globs && i < globs->size(); ++i) {
    if (std::string why = GlobProblem((*globs)[i]); !why.empty())
      r.Error(node.items[i], path + "[" + std::to_string(i) + "]", Quote((*globs)[i]) + ": " + why);
  }
  return globs.value_or(std::vector<std::string>{});
}

// `promote` alone; that `image` is one the run uses is checked with the
// steps (ReadPipeline).
std::optional<Promote> ReadPromote(Reader& r, const YamlNode& node, const YamlNode** image_node) {
  auto f = r.Mapping(node, "promote", {"to", "image", "tags", "immutable", "branches", "tags_match"});
  if (!f) return std::nullopt;
  Promote p;
  p.at = node.at;
  for (const char* required : {"to", "tags"}) {
    if (!f->count(required)) r.Error(node, "promote", "missing key " + Quote(required));
  }
  if (f->count("to")) {
    const YamlNode& to = *f->at("to");
    p.to = r.Image(to, "promote.to");
    size_t slash = p.to.rfind('/');
    if (p.to.find('@') != std::string::npos ||
        p.to.find(':', slash == std::string::npos ? 0 : slash) != std::string::npos) {
      r.Error(to, "promote.to", "want a repository without tag or digest: the tags come from promote.tags");
    }
  }
  if (f->count("image")) {
    *image_node = f->at("image");
    p.image = r.Image(**image_node, "promote.image");
  }
  if (f->count("tags")) {
    const YamlNode& tags = *f->at("tags");
    p.tags = r.Strings(tags, "promote.tags").value_or(std::vector<std::string>{});
    if (tags.kind == Kind::kSequence && tags.items.empty())
      r.Error(tags, "promote.tags", "want at least one tag");
    for (size_t i = 0; i < p.tags.size() && p.tags.size() == tags.items.size(); ++i) {
      std::string path = "promote.tags[" + std::to_string(i) + "]";
      if (std::string why = CheckTagTemplate(p.tags[i]); !why.empty()) {
        r.Error(tags.items[i], path, Quote(p.tags[i]) + " is not a tag: " + why);
      } else if (std::find(p.tags.begin(), p.tags.begin() + i, p.tags[i]) != p.tags.begin() + i) {
        r.Error(tags.items[i], path, Quote(p.tags[i]) + " is listed twice");
      }
    }
  }
  if (f->count("immutable")) {
    const YamlNode& list = *f->at("immutable");
    p.immutable = r.Strings(list, "promote.immutable").value_or(std::vector<std::string>{});
    for (size_t i = 0; i < p.immutable.size() && f->count("tags"); ++i) {
      if (std::find(p.tags.begin(), p.tags.end(), p.immutable[i]) == p.tags.end()) {
        r.Error(list.items[i], "promote.immutable[" + std::to_string(i) + "]",
                Quote(p.immutable[i]) + " is not one of promote.tags (write it as it is written there)");
      }
    }
  }
  if (f->count("branches")) p.branches = Globs(r, *f->at("branches"), "promote.branches");
  if (f->count("tags_match")) p.tags_match = Globs(r, *f->at("tags_match"), "promote.tags_match");
  return p;
}

// Each step's `needs`, from `depends_on` or the step before; then the
// errors only the whole list shows: unknown names and cycles.
void ResolveNeeds(Reader& r, Pipeline& p, const std::vector<ItemNodes>& nodes) {
  std::map<std::string, size_t> steps, services;
  for (size_t i = 0; i < p.steps.size(); ++i) steps.emplace(p.steps[i].name, i);
  for (size_t i = 0; i < p.services.size(); ++i) services.emplace(p.services[i].name, i);
  for (size_t i = 0; i < p.steps.size(); ++i) {
    Step& s = p.steps[i];
    if (!s.depends_on) {
      if (i > 0) s.needs.push_back(i - 1);
      continue;
    }
    for (size_t k = 0; k < s.depends_on->size() && nodes[i].depends_on; ++k) {
      const std::string& name = (*s.depends_on)[k];
      const YamlNode& at = nodes[i].depends_on->items[k];
      std::string path = "steps[" + std::to_string(i) + "].depends_on[" + std::to_string(k) + "]";
      if (auto it = steps.find(name); it != steps.end()) {
        s.needs.push_back(it->second);
      } else if (services.count(name)) {
        r.Error(at, path, Quote(name) + " is a service: every step waits for every service to be ready");
      } else {
        r.Error(at, path, "no step is named " + Quote(name));
      }
    }
  }
  for (const std::vector<size_t>& cycle : FindCycles(NeedsOf(p))) {
    std::string names;
    for (size_t s : cycle) names += p.steps[s].name + " -> ";
    names += p.steps[cycle[0]].name;
    size_t first = cycle[0];
    const YamlNode* at = nodes[first].depends_on ? nodes[first].depends_on : nodes[first].item;
    r.Error(*at, "steps[" + std::to_string(first) + "]" + (nodes[first].depends_on ? ".depends_on" : ""),
            "a cycle: " + names + " (each waits for the next)");
  }
}

// The image promoted is one the run has: `build`'s, or an image a step or
// service names, written the same way (the run knows it by that name).
void CheckPromoteImage(Reader& r, const Pipeline& p, const YamlNode& promote, const YamlNode* image) {
  if (!image) {
    if (!p.build) r.Error(promote, "promote", "no \"image\", and no \"build\" to take the image from");
    return;
  }
  if (p.promote->image.empty()) return;  // already an error
  bool used = false;
  for (const Step& s : p.steps) used = used || s.image == p.promote->image;
  for (const Service& s : p.services) used = used || s.image == p.promote->image;
  if (!used) {
    r.Error(*image, "promote.image",
            Quote(p.promote->image) + " is not the image of any step or service (write it as they do)");
  }
}

void ReadPipeline(Reader& r, const YamlNode& root, Pipeline& p) {
  if (root.kind == Kind::kNull) {
    r.Error(root, "", "the file is empty: it needs at least \"steps\"");
    return;
  }
  auto f = r.Mapping(root, "", {"build", "services", "steps", "reports", "reports_fail_run", "promote"});
  if (!f) return;
  if (f->count("build")) p.build = ReadBuild(r, *f->at("build"));
  std::vector<ItemNodes> step_nodes, service_nodes;
  if (f->count("services")) {
    const YamlNode& list = *f->at("services");
    if (r.Expect(list, "services", Kind::kSequence, "a list of services")) {
      service_nodes.resize(list.items.size());
      for (size_t i = 0; i < list.items.size(); ++i) {
        p.services.push_back(
            ReadService(r, list.items[i], "services[" + std::to_string(i) + "]", &service_nodes[i]));
      }
    }
  }
  if (!f->count("steps")) {
    r.Error(root, "", "missing key \"steps\"");
  } else {
    const YamlNode& list = *f->at("steps");
    if (r.Expect(list, "steps", Kind::kSequence, "a list of steps")) {
      if (list.items.empty()) r.Error(list, "steps", "want at least one step");
      step_nodes.resize(list.items.size());
      for (size_t i = 0; i < list.items.size(); ++i) {
        p.steps.push_back(ReadStep(r, list.items[i], "steps[" + std::to_string(i) + "]", &step_nodes[i]));
      }
    }
  }
  if (f->count("reports")) p.reports = r.Reports(*f->at("reports"), "reports");
  if (f->count("reports_fail_run")) {
    p.reports_fail_run = r.Bool(*f->at("reports_fail_run"), "reports_fail_run").value_or(false);
  }
  const YamlNode* promote_image = nullptr;
  if (f->count("promote")) p.promote = ReadPromote(r, *f->at("promote"), &promote_image);

  // Across the lists: unique names, and an image for everything.
  std::map<std::string, std::string> taken;  // name -> "steps[0]"
  auto claim = [&](const std::string& name, const std::string& path, const ItemNodes& nodes) {
    if (name.empty()) return;
    auto [it, inserted] = taken.emplace(name, path);
    if (!inserted) r.Error(*nodes.name, path + ".name", Quote(name) + " is taken by " + it->second);
  };
  auto image_from_build = [&](const ItemNodes& nodes, const std::string& path) {
    if (nodes.image || !nodes.item || p.build) return;
    r.Error(*nodes.item, path, "no \"image\", and no \"build\" to take the image from");
  };
  for (size_t i = 0; i < p.services.size(); ++i) {
    std::string path = "services[" + std::to_string(i) + "]";
    claim(p.services[i].name, path, service_nodes[i]);
    image_from_build(service_nodes[i], path);
  }
  for (size_t i = 0; i < p.steps.size(); ++i) {
    std::string path = "steps[" + std::to_string(i) + "]";
    claim(p.steps[i].name, path, step_nodes[i]);
    image_from_build(step_nodes[i], path);
  }
  ResolveNeeds(r, p, step_nodes);
  if (p.promote) CheckPromoteImage(r, p, *f->at("promote"), promote_image);
}

}  // namespace

Result<Pipeline> ParsePipelineFile(std::string_view yaml_text, std::vector<FileError>* errors_out) {
  std::vector<FileError> errors;
  Pipeline pipeline;
  if (std::optional<YamlNode> root = LoadYaml(yaml_text, kLimits, &errors)) {
    Reader reader(&errors);
    ReadPipeline(reader, *root, pipeline);
  }
  std::stable_sort(errors.begin(), errors.end(), [](const FileError& a, const FileError& b) {
    return std::pair(a.at.line, a.at.column) < std::pair(b.at.line, b.at.column);
  });
  if (errors.size() > kMaxErrors) {
    FileError more{errors[kMaxErrors].at,
                   "and " + std::to_string(errors.size() - kMaxErrors) + " more errors"};
    errors.resize(kMaxErrors);
    errors.push_back(std::move(more));
  }
  if (errors_out) *errors_out = errors;
  if (errors.empty()) return pipeline;
  std::string message;
  for (const FileError& e : errors) message += (message.empty() ? "" : "\n") + e.ToString();
  return InvalidArgument(message);
}

StepNeeds NeedsOf(const Pipeline& pipeline) {
  StepNeeds needs;
  for (const Step& s : pipeline.steps) needs.push_back(s.needs);
  return needs;
}

std::vector<size_t> ExecutionOrder(const Pipeline& pipeline) {
  return ExecutionOrder(NeedsOf(pipeline));
}

bool StepRuns(const Step& step, const RunContext& ctx) {
  return WhenMatches(step.when, ctx);
}

}  // namespace slipway::pipelines
