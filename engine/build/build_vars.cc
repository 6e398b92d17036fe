#include "engine/build/build_vars.h"

#include <algorithm>
#include <array>

namespace slipway {
namespace {

constexpr std::array<std::string_view, 10> kProxyArgs = {
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
    "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy",
};

bool IsProxyArg(std::string_view name) {
  return std::find(kProxyArgs.begin(), kProxyArgs.end(), name) != kProxyArgs.end();
}

template <typename Pairs>
auto FindByName(Pairs& pairs, std::string_view name) {
  return std::find_if(pairs.begin(), pairs.end(), [&](const auto& p) { return p.first == name; });
}

}  // namespace

BuildVars::BuildVars(std::map<std::string, std::string> build_args,
                     std::map<std::string, std::string> automatic)
    : build_args_(std::move(build_args)), automatic_(std::move(automatic)) {}

Result<std::optional<std::string>> BuildVars::ArgValue(const KeyValue& pair,
                                                       const std::optional<std::string>& fallback,
                                                       const VarLookup& lookup, char escape) {
  declared_.insert(pair.key);
  if (auto it = build_args_.find(pair.key); it != build_args_.end()) {
    return std::optional<std::string>(it->second);
  }
  if (pair.value) {
    SLIPWAY_ASSIGN_OR_RETURN(std::string value, Expand(*pair.value, lookup, escape));
    return std::optional<std::string>(std::move(value));
  }
  if (fallback) return fallback;
  if (auto it = automatic_.find(pair.key); it != automatic_.end()) {
    return std::optional<std::string>(it->second);
  }
  return std::optional<std::string>();
}

Status BuildVars::DeclareGlobalArgs(const Instruction& arg, char escape) {
  for (const KeyValue& pair : arg.pairs) {
    SLIPWAY_ASSIGN_OR_RETURN(std::optional<std::string> value,
                             ArgValue(pair, std::nullopt, GlobalLookup(), escape));
    global_[pair.key] = std::move(value);
  }
  return Status::Ok();
}

std::optional<std::string> BuildVars::GetGlobal(std::string_view name) const {
  if (auto it = global_.find(name); it != global_.end()) return it->second;
  if (auto it = automatic_.find(std::string(name)); it != automatic_.end()) return it->second;
  return std::nullopt;
}

VarLookup BuildVars::GlobalLookup() const {
  return [this](std::string_view name) { return GetGlobal(name); };
}

void BuildVars::BeginStage(const std::vector<std::string>& base_env) {
  args_.clear();
  env_.clear();
  for (const std::string& entry : base_env) {
    size_t eq = entry.find('=');
    if (eq == std::string::npos) {
      SetEnv(entry, "");
    } else {
      SetEnv(entry.substr(0, eq), entry.substr(eq + 1));
    }
  }
}

Status BuildVars::DeclareArgs(const Instruction& arg, char escape) {
  for (const KeyValue& pair : arg.pairs) {
    std::optional<std::string> global;
    if (auto it = global_.find(pair.key); it != global_.end()) global = it->second;
    SLIPWAY_ASSIGN_OR_RETURN(std::optional<std::string> value, ArgValue(pair, global, Lookup(), escape));
    if (auto it = FindByName(args_, pair.key); it != args_.end()) {
      it->second = std::move(value);
    } else {
      args_.emplace_back(pair.key, std::move(value));
    }
  }
  return Status::Ok();
}

Status BuildVars::ApplyEnv(const Instruction& env, char escape) {
  std::vector<std::pair<std::string, std::string>> expanded;
  VarLookup lookup = Lookup();
  for (const KeyValue& pair : env.pairs) {
    SLIPWAY_ASSIGN_OR_RETURN(std::string key, Expand(pair.key, lookup, escape));
    SLIPWAY_ASSIGN_OR_RETURN(std::string value, Expand(pair.value.value_or(""), lookup, escape));
    expanded.emplace_back(std::move(key), std::move(value));
  }
  for (const auto& [key, value] : expanded) SetEnv(key, value);
  return Status::Ok();
}

void BuildVars::SetEnv(const std::string& name, const std::string& value) {
  if (auto it = FindByName(env_, name); it != env_.end()) {
    it->second = value;
  } else {
    env_.emplace_back(name, value);
  }
}

std::optional<std::string> BuildVars::Get(std::string_view name) const {
  if (auto it = FindByName(env_, name); it != env_.end()) return it->second;
  if (auto it = FindByName(args_, name); it != args_.end()) return it->second;
  return std::nullopt;
}

VarLookup BuildVars::Lookup() const {
  return [this](std::string_view name) { return Get(name); };
}

std::vector<std::string> BuildVars::Env() const {
  std::vector<std::string> out;
  for (const auto& [name, value] : env_) out.push_back(name + "=" + value);
  return out;
}

std::vector<std::string> BuildVars::RunEnv() const {
  std::vector<std::string> out = Env();
  for (const auto& [name, value] : args_) {
    if (value && FindByName(env_, name) == env_.end()) out.push_back(name + "=" + *value);
  }
  for (const auto& [name, value] : build_args_) {
    bool shadowed = FindByName(env_, name) != env_.end() || FindByName(args_, name) != args_.end();
    if (IsProxyArg(name) && !shadowed) out.push_back(name + "=" + value);
  }
  return out;
}

std::vector<std::string> BuildVars::UnusedBuildArgs() const {
  std::vector<std::string> out;
  for (const auto& [name, value] : build_args_) {
    if (declared_.count(name) == 0 && !IsProxyArg(name)) out.push_back(name);
  }
  return out;
}

}  // namespace slipway
