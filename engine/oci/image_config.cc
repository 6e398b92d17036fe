#include "engine/oci/image_config.h"

#include <nlohmann/json.hpp>

namespace slipway {

namespace {

using nlohmann::json;

std::vector<std::string> StringList(const json& j, const char* key) {
  std::vector<std::string> out;
  if (!j.contains(key) || j[key].is_null()) return out;
  for (const auto& v : j.at(key)) out.push_back(v.get<std::string>());
  return out;
}

std::string String(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

void ParseRuntimeConfig(const json& c, ImageConfig* out) {
  out->user = String(c, "User");
  out->env = StringList(c, "Env");
  out->entrypoint = StringList(c, "Entrypoint");
  out->cmd = StringList(c, "Cmd");
  out->working_dir = String(c, "WorkingDir");
  if (c.contains("Labels") && c["Labels"].is_object()) {
    for (const auto& [k, v] : c["Labels"].items()) out->labels[k] = v.get<std::string>();
  }
  if (c.contains("ExposedPorts") && c["ExposedPorts"].is_object()) {
    for (const auto& [k, v] : c["ExposedPorts"].items()) out->exposed_ports.push_back(k);
  }
  if (c.contains("Volumes") && c["Volumes"].is_object()) {
    for (const auto& [k, v] : c["Volumes"].items()) out->volumes.push_back(k);
  }
  out->stop_signal = String(c, "StopSignal");
  out->shell = StringList(c, "Shell");
  out->on_build = StringList(c, "OnBuild");
  if (c.contains("Healthcheck") && c["Healthcheck"].is_object()) {
    const json& h = c["Healthcheck"];
    Healthcheck check;
    check.test = StringList(h, "Test");
    check.interval_ns = h.value("Interval", int64_t{0});
    check.timeout_ns = h.value("Timeout", int64_t{0});
    check.start_period_ns = h.value("StartPeriod", int64_t{0});
    check.start_interval_ns = h.value("StartInterval", int64_t{0});
    check.retries = h.value("Retries", 0);
    out->healthcheck = check;
  }
}

json HealthcheckJson(const Healthcheck& h) {
  json j = json::object();
  if (!h.test.empty()) j["Test"] = h.test;
  if (h.interval_ns != 0) j["Interval"] = h.interval_ns;
  if (h.timeout_ns != 0) j["Timeout"] = h.timeout_ns;
  if (h.start_period_ns != 0) j["StartPeriod"] = h.start_period_ns;
  if (h.start_interval_ns != 0) j["StartInterval"] = h.start_interval_ns;
  if (h.retries != 0) j["Retries"] = h.retries;
  return j;
}

}  // namespace

Result<ImageConfig> ImageConfig::Parse(const std::string& text) {
  ImageConfig out;
  try {
    json j = json::parse(text);
    if (!j.is_object()) return InvalidArgument("image config is not a JSON object");
    out.architecture = String(j, "architecture");
    out.os = String(j, "os");
    out.created = String(j, "created");
    if (j.contains("config") && j["config"].is_object()) ParseRuntimeConfig(j["config"], &out);
    const json& rootfs = j.at("rootfs");
    if (String(rootfs, "type") != "layers")
      return InvalidArgument("image config: rootfs.type must be \"layers\"");
    for (const auto& d : rootfs.at("diff_ids")) {
      SLIPWAY_ASSIGN_OR_RETURN(Digest digest, Digest::Parse(d.get<std::string>()));
      out.diff_ids.push_back(digest);
    }
    if (j.contains("history") && j["history"].is_array()) {
      for (const auto& h : j["history"]) {
        out.history.push_back({String(h, "created"), String(h, "created_by"), String(h, "comment"),
                               h.value("empty_layer", false)});
      }
    }
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("malformed image config: ") + e.what());
  }
  return out;
}

std::string ImageConfig::ToJson() const {
  json config = json::object();
  if (!user.empty()) config["User"] = user;
  if (!env.empty()) config["Env"] = env;
  if (!entrypoint.empty()) config["Entrypoint"] = entrypoint;
  if (!cmd.empty()) config["Cmd"] = cmd;
  if (!working_dir.empty()) config["WorkingDir"] = working_dir;
  if (!labels.empty()) config["Labels"] = labels;
  if (!exposed_ports.empty()) {
    json ports = json::object();
    for (const auto& p : exposed_ports) ports[p] = json::object();
    config["ExposedPorts"] = ports;
  }
  if (!volumes.empty()) {
    json set = json::object();
    for (const auto& v : volumes) set[v] = json::object();
    config["Volumes"] = set;
  }
  if (!stop_signal.empty()) config["StopSignal"] = stop_signal;
  if (!shell.empty()) config["Shell"] = shell;
  if (!on_build.empty()) config["OnBuild"] = on_build;
  if (healthcheck) config["Healthcheck"] = HealthcheckJson(*healthcheck);
  json diff = json::array();
  for (const auto& d : diff_ids) diff.push_back(d.str());
  json j = {{"architecture", architecture},
            {"os", os},
            {"config", config},
            {"rootfs", {{"type", "layers"}, {"diff_ids", diff}}}};
  if (!created.empty()) j["created"] = created;
  if (!history.empty()) {
    json hist = json::array();
    for (const auto& h : history) {
      json e = json::object();
      if (!h.created.empty()) e["created"] = h.created;
      if (!h.created_by.empty()) e["created_by"] = h.created_by;
      if (!h.comment.empty()) e["comment"] = h.comment;
      if (h.empty_layer) e["empty_layer"] = true;
      hist.push_back(e);
    }
    j["history"] = hist;
  }
  return j.dump();  // nlohmann sorts keys: the same config always gives the same bytes
}

std::vector<std::string> ImageConfig::Command(const std::vector<std::string>& args) const {
  std::vector<std::string> out = entrypoint;
  const auto& tail = args.empty() ? cmd : args;
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

}  // namespace slipway
