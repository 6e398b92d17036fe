#include "engine/runtime/spec_json.h"

#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace slipway {

using json = nlohmann::json;

namespace {

// Thrown while decoding, caught in SpecFromJson: exceptions stay in this file.
struct SpecError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const char* NetworkName(NetworkMode mode) {
  switch (mode) {
    case NetworkMode::kPrivate: return "private";
    case NetworkMode::kContainer: return "container";
    case NetworkMode::kHost: return "host";
  }
  // Only a value outside the enum gets here; it must not decode as anything.
  return "unknown";
}

NetworkMode NetworkFromName(const std::string& name) {
  if (name == "private") return NetworkMode::kPrivate;
  if (name == "container") return NetworkMode::kContainer;
  if (name == "host") return NetworkMode::kHost;
  throw SpecError("network: unknown mode \"" + name + "\"");
}

// Rejects keys this decoder does not know: a field renamed on one side only
// would otherwise fall back to its default without a word.
void CheckKeys(const json& object, std::initializer_list<const char*> known, const std::string& where) {
  if (!object.is_object()) throw SpecError(where + ": not an object");
  for (const auto& [key, value] : object.items()) {
    bool ok = std::any_of(known.begin(), known.end(), [&](const char* k) { return key == k; });
    if (!ok) throw SpecError(where + ": unknown key \"" + key + "\"");
  }
}

// An integer of type T, refusing floats and values T cannot hold (a uid of -1
// must not become 4294967295).
template <typename T>
T ToInt(const json& value, const std::string& key) {
  if (!value.is_number_integer()) throw SpecError(key + ": not an integer");
  if (value.is_number_unsigned()) {
    auto u = value.get<uint64_t>();
    if (!std::in_range<T>(u)) throw SpecError(key + ": out of range");
    return static_cast<T>(u);
  }
  auto s = value.get<int64_t>();
  if (!std::in_range<T>(s)) throw SpecError(key + ": out of range");
  return static_cast<T>(s);
}

// Sets *out from object[key] if present; a missing key keeps the default.
template <typename T>
void Read(const json& object, const char* key, T* out) {
  auto it = object.find(key);
  if (it == object.end()) return;
  if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) throw SpecError(std::string(key) + ": not a boolean");
    *out = it->template get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    *out = ToInt<T>(*it, key);
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) throw SpecError(std::string(key) + ": not a string");
    *out = it->template get<std::string>();
  } else {
    static_assert(std::is_same_v<T, std::vector<std::string>>);
    if (!it->is_array()) throw SpecError(std::string(key) + ": not an array");
    out->clear();
    for (const json& s : *it) {
      if (!s.is_string()) throw SpecError(std::string(key) + ": not an array of strings");
      out->push_back(s.get<std::string>());
    }
  }
}

json LimitsToJson(const CgroupLimits& l) {
  return {{"memory_bytes", l.memory_bytes}, {"memory_swap_bytes", l.memory_swap_bytes},
          {"cpu_millis", l.cpu_millis},     {"cpu_period_us", l.cpu_period_us},
          {"pids_max", l.pids_max},         {"restrict_devices", l.restrict_devices}};
}

CgroupLimits LimitsFromJson(const json& j) {
  CheckKeys(
      j, {"memory_bytes", "memory_swap_bytes", "cpu_millis", "cpu_period_us", "pids_max", "restrict_devices"},
      "limits");
  CgroupLimits l;
  Read(j, "memory_bytes", &l.memory_bytes);
  Read(j, "memory_swap_bytes", &l.memory_swap_bytes);
  Read(j, "cpu_millis", &l.cpu_millis);
  Read(j, "cpu_period_us", &l.cpu_period_us);
  Read(j, "pids_max", &l.pids_max);
  Read(j, "restrict_devices", &l.restrict_devices);
  return l;
}

json BindsToJson(const std::vector<BindMount>& binds) {
  json out = json::array();
  for (const BindMount& b : binds) {
    out.push_back({{"source", b.source}, {"target", b.target}, {"read_only", b.read_only}});
  }
  return out;
}

std::vector<BindMount> BindsFromJson(const json& j) {
  if (!j.is_array()) throw SpecError("binds: not an array");
  std::vector<BindMount> out;
  for (const json& item : j) {
    CheckKeys(item, {"source", "target", "read_only"}, "binds");
    BindMount b;
    Read(item, "source", &b.source);
    Read(item, "target", &b.target);
    Read(item, "read_only", &b.read_only);
    out.push_back(std::move(b));
  }
  return out;
}

std::vector<gid_t> GidsFromJson(const json& j) {
  if (!j.is_array()) throw SpecError("additional_gids: not an array");
  std::vector<gid_t> out;
  for (const json& g : j) out.push_back(ToInt<gid_t>(g, "additional_gids"));
  return out;
}

}  // namespace

std::string SpecToJson(const SandboxSpec& spec) {
  json j = {
      {"name", spec.name},
      {"lower_dirs", spec.lower_dirs},
      {"argv", spec.argv},
      {"env", spec.env},
      {"workdir", spec.workdir},
      {"uid", spec.uid},
      {"gid", spec.gid},
      {"additional_gids", spec.additional_gids},
      {"hostname", spec.hostname},
      {"limits", LimitsToJson(spec.limits)},
      {"storage_bytes", spec.storage_bytes},
      {"upper_dir", spec.upper_dir},
      {"timeout_ms", spec.timeout.count()},
      {"network", NetworkName(spec.network)},
      {"network_peer", spec.network_peer},
      {"binds", BindsToJson(spec.binds)},
      {"capabilities", spec.capabilities},
      {"masked_values", spec.masked_values},
      {"interactive", spec.interactive},
      {"kill_on_parent_death", spec.kill_on_parent_death},
  };
  return j.dump();
}

Result<SandboxSpec> SpecFromJson(const std::string& text) {
  try {
    json j = json::parse(text);
    CheckKeys(j,
              {"name", "lower_dirs", "argv", "env", "workdir", "uid", "gid", "additional_gids", "hostname",
               "limits", "storage_bytes", "upper_dir", "timeout_ms", "network", "network_peer", "binds",
               "capabilities", "masked_values", "interactive", "kill_on_parent_death"},
              "spec");
    SandboxSpec spec;
    Read(j, "name", &spec.name);
    Read(j, "lower_dirs", &spec.lower_dirs);
    Read(j, "argv", &spec.argv);
    Read(j, "env", &spec.env);
    Read(j, "workdir", &spec.workdir);
    Read(j, "uid", &spec.uid);
    Read(j, "gid", &spec.gid);
    if (j.contains("additional_gids")) spec.additional_gids = GidsFromJson(j["additional_gids"]);
    Read(j, "hostname", &spec.hostname);
    if (j.contains("limits")) spec.limits = LimitsFromJson(j["limits"]);
    Read(j, "storage_bytes", &spec.storage_bytes);
    Read(j, "upper_dir", &spec.upper_dir);
    int64_t timeout_ms = spec.timeout.count();
    Read(j, "timeout_ms", &timeout_ms);
    spec.timeout = std::chrono::milliseconds(timeout_ms);
    std::string network = NetworkName(spec.network);
    Read(j, "network", &network);
    spec.network = NetworkFromName(network);
    Read(j, "network_peer", &spec.network_peer);
    if (j.contains("binds")) spec.binds = BindsFromJson(j["binds"]);
    Read(j, "capabilities", &spec.capabilities);
    Read(j, "masked_values", &spec.masked_values);
    Read(j, "interactive", &spec.interactive);
    Read(j, "kill_on_parent_death", &spec.kill_on_parent_death);
    return spec;
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("malformed sandbox spec: ") + e.what());
  } catch (const SpecError& e) {
    return InvalidArgument(std::string("malformed sandbox spec: ") + e.what());
  }
}


}  // namespace slipway
