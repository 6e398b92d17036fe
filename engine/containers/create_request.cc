#include "engine/containers/create_request.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string_view>

#include "engine/base/ascii.h"

namespace slipway {

namespace {

using json = nlohmann::json;
// Output keeps the documented field order, which a client reading by eye expects.
using ordered_json = nlohmann::ordered_json;

// Thrown while decoding, caught in CreateRequest::FromJson: exceptions stay in
// this file.
struct DecodeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void Fail(std::string_view field, const std::string& what) {
  throw DecodeError("field \"" + std::string(field) + "\": " + what);
}

// A single-line string: name, image, rootfs, workdir, user, hostname, network.
std::string ReadPlainString(const json& v, std::string_view field) {
  if (!v.is_string()) Fail(field, "expected a string");
  std::string s = v.get<std::string>();
  if (HasControlChar(s)) Fail(field, "must not contain control characters");
  return s;
}

// Arguments, environment, binds and capabilities become C strings: a NUL
// would silently cut them short. Other control characters are legitimate in
// arguments and values (a script passed to sh -c has newlines).
std::vector<std::string> ReadStrings(const json& v, std::string_view field) {
  if (!v.is_array()) Fail(field, "expected an array of strings");
  std::vector<std::string> out;
  for (const json& item : v) {
    if (!item.is_string()) Fail(field, "expected an array of strings");
    std::string s = item.get<std::string>();
    if (s.find('\0') != std::string::npos) Fail(field, "must not contain NUL characters");
    out.push_back(std::move(s));
  }
  return out;
}

// An integer >= min that fits int64_t; floats ("1.0", "1e3") are refused.
int64_t ReadInt(const json& v, std::string_view field, int64_t min) {
  const std::string expected =
      min == 0 ? "expected a non-negative integer" : "expected an integer >= " + std::to_string(min);
  if (!v.is_number_integer()) Fail(field, expected);
  if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) Fail(field, expected);
    return static_cast<int64_t>(v.get<uint64_t>());
  }
  int64_t n = v.get<int64_t>();
  if (n < min) Fail(field, expected);
  return n;
}

bool ReadBool(const json& v, std::string_view field) {
  if (!v.is_boolean()) Fail(field, "expected a boolean");
  return v.get<bool>();
}

// One decoder per JSON field; the table is also the list of known fields.
struct Field {
  std::string_view name;
  void (*decode)(const json& v, std::string_view name, CreateRequest& r);
};

const Field kFields[] = {
    {"name", [](const json& v, std::string_view f, CreateRequest& r) { r.name = ReadPlainString(v, f); }},
    {"image", [](const json& v, std::string_view f, CreateRequest& r) { r.image = ReadPlainString(v, f); }},
    {"rootfs", [](const json& v, std::string_view f, CreateRequest& r) { r.rootfs = ReadPlainString(v, f); }},
    {"entrypoint",
     [](const json& v, std::string_view f, CreateRequest& r) {
       if (v.is_null()) {
         r.entrypoint.reset();
       } else {
         r.entrypoint = ReadStrings(v, f);
       }
     }},
    {"command", [](const json& v, std::string_view f, CreateRequest& r) { r.command = ReadStrings(v, f); }},
    {"env", [](const json& v, std::string_view f, CreateRequest& r) { r.env = ReadStrings(v, f); }},
    {"workdir",
     [](const json& v, std::string_view f, CreateRequest& r) { r.workdir = ReadPlainString(v, f); }},
    {"user", [](const json& v, std::string_view f, CreateRequest& r) { r.user = ReadPlainString(v, f); }},
    {"hostname",
     [](const json& v, std::string_view f, CreateRequest& r) { r.hostname = ReadPlainString(v, f); }},
    {"memory_bytes",
     [](const json& v, std::string_view f, CreateRequest& r) { r.limits.memory_bytes = ReadInt(v, f, 0); }},
    {"memory_swap_bytes",
     [](const json& v, std::string_view f, CreateRequest& r) {
       r.limits.memory_swap_bytes = ReadInt(v, f, -1);  // -1: unlimited swap, as Docker's
     }},
    {"cpu_millis",
     [](const json& v, std::string_view f, CreateRequest& r) { r.limits.cpu_millis = ReadInt(v, f, 0); }},
    {"pids_limit",
     [](const json& v, std::string_view f, CreateRequest& r) { r.limits.pids_max = ReadInt(v, f, 0); }},
    {"storage_bytes",
     [](const json& v, std::string_view f, CreateRequest& r) { r.storage_bytes = ReadInt(v, f, 0); }},
    {"timeout_ms",
     [](const json& v, std::string_view f, CreateRequest& r) { r.timeout_ms = ReadInt(v, f, 0); }},
    {"network",
     [](const json& v, std::string_view f, CreateRequest& r) { r.network = ReadPlainString(v, f); }},
    {"binds", [](const json& v, std::string_view f, CreateRequest& r) { r.binds = ReadStrings(v, f); }},
    {"cap_add", [](const json& v, std::string_view f, CreateRequest& r) { r.cap_add = ReadStrings(v, f); }},
    {"cap_drop", [](const json& v, std::string_view f, CreateRequest& r) { r.cap_drop = ReadStrings(v, f); }},
    {"auto_remove",
     [](const json& v, std::string_view f, CreateRequest& r) { r.auto_remove = ReadBool(v, f); }},
    {"stop_signal",
     [](const json& v, std::string_view f, CreateRequest& r) { r.stop_signal = ReadPlainString(v, f); }},
};

const Field* FindField(std::string_view name) {
  for (const Field& f : kFields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// Parses `text`, noting a top-level key given twice: the parser would keep
// the last one silently, and which one the client meant is a guess.
json ParseObject(const std::string& text) {
  std::set<std::string> seen;
  std::string duplicate;
  auto on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && !seen.insert(parsed.get<std::string>()).second &&
        duplicate.empty()) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  json j = json::parse(text, on_event);
  if (!j.is_object()) throw DecodeError("the request body must be a JSON object");
  if (!duplicate.empty()) throw DecodeError("duplicate field \"" + duplicate + "\"");
  return j;
}

// nlohmann's parse message without its "[json.exception...] " tag and the
// "; last read: ..." tail (which may quote ill-formed bytes).
std::string ParseErrorText(const json::parse_error& e) {
  std::string_view s = e.what();
  if (auto end = s.find("] "); end != std::string_view::npos) s.remove_prefix(end + 2);
  if (auto tail = s.find("; last read"); tail != std::string_view::npos) s = s.substr(0, tail);
  return std::string(s);
}

ordered_json RequestToJson(const CreateRequest& r) {
  ordered_json j;
  j["name"] = r.name;
  j["image"] = r.image;
  j["rootfs"] = r.rootfs;
  j["entrypoint"] = r.entrypoint ? ordered_json(*r.entrypoint) : ordered_json(nullptr);
  j["command"] = r.command;
  j["env"] = r.env;
  j["workdir"] = r.workdir;
  j["user"] = r.user;
  j["hostname"] = r.hostname;
  j["memory_bytes"] = r.limits.memory_bytes;
  j["memory_swap_bytes"] = r.limits.memory_swap_bytes;
  j["cpu_millis"] = r.limits.cpu_millis;
  j["pids_limit"] = r.limits.pids_max;
  j["storage_bytes"] = r.storage_bytes;
  j["timeout_ms"] = r.timeout_ms;
  j["network"] = r.network;
  j["binds"] = r.binds;
  j["cap_add"] = r.cap_add;
  j["cap_drop"] = r.cap_drop;
  j["auto_remove"] = r.auto_remove;
  j["stop_signal"] = r.stop_signal;
  return j;
}

}  // namespace

nlohmann::ordered_json CreateRequest::ToJsonValue() const {
  return RequestToJson(*this);
}

std::string CreateRequest::ToJson() const {
  // dump() throws on ill-formed UTF-8 (an argument may hold any bytes);
  // replacing it keeps ToJson() from throwing.
  return ToJsonValue().dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Result<CreateRequest> CreateRequest::FromJson(const std::string& text) {
  try {
    json j = ParseObject(text);
    CreateRequest r;
    for (const auto& [key, value] : j.items()) {
      const Field* field = FindField(key);
      if (!field) throw DecodeError("unknown field \"" + key + "\"");
      field->decode(value, field->name, r);
    }
    if (r.image.empty() == r.rootfs.empty()) {
      throw DecodeError("exactly one of \"image\" and \"rootfs\" is required");
    }
    return r;
  } catch (const json::parse_error& e) {
    return InvalidArgument("malformed JSON: " + ParseErrorText(e));
  } catch (const DecodeError& e) {
    return InvalidArgument(e.what());
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("malformed request: ") + e.what());
  }
}

}  // namespace slipway
