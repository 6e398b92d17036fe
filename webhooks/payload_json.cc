#include "webhooks/payload_json.h"

#include "engine/base/ascii.h"

namespace slipway::webhooks::internal {
namespace {

using nlohmann::json;

// Nesting of the body's arrays and objects, counted over its bytes without
// parsing (strings skipped, escapes honoured): stops as soon as it passes
// `limit`, so any body is scanned in one pass with constant stack.
bool NestingWithin(std::string_view body, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

Status WrongType(const Path& path, const char* want) {
  return InvalidArgument("field " + PathName(path) + " is not " + want);
}

Result<std::string> StringAt(const json& root, const Path& path, size_t max_bytes, bool required, bool text) {
  const json* v = Find(root, path);
  if (v == nullptr) {
    if (required) return InvalidArgument("field " + PathName(path) + " is missing");
    return std::string();
  }
  if (!v->is_string()) return WrongType(path, "a string");
  const auto& s = v->get_ref<const std::string&>();
  if (s.size() > max_bytes) {
    return InvalidArgument("field " + PathName(path) + " is too long (" + std::to_string(s.size()) +
                           " bytes, at most " + std::to_string(max_bytes) + ")");
  }
  if (!text && HasControlChar(s)) {
    return InvalidArgument("field " + PathName(path) + " holds a control character");
  }
  if (required && s.empty()) return InvalidArgument("field " + PathName(path) + " is empty");
  return s;
}

}  // namespace

Result<json> ParseBody(std::string_view body) {
  if (!NestingWithin(body, kMaxDepth)) {
    return InvalidArgument("body nests deeper than " + std::to_string(kMaxDepth) + " levels");
  }
  // nlohmann's lexer takes a NUL byte for the end of input and would ignore
  // whatever follows; JSON has no raw NUL anywhere, so refuse it outright.
  if (body.find('\0') != std::string_view::npos) return InvalidArgument("body holds a NUL byte");
  // No exceptions: a parse error gives a discarded value. nlohmann's lexer
  // refuses invalid UTF-8 and raw control characters inside strings.
  json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgument("body is not valid JSON");
  if (!doc.is_object()) return InvalidArgument("body is not a JSON object");
  return doc;
}

std::string PathName(const Path& path) {
  std::string out;
  for (const char* p : path) {
    if (!out.empty()) out += '.';
    out += p;
  }
  return out;
}

const json* Find(const json& root, const Path& path) {
  const json* v = &root;
  for (const char* p : path) {
    if (!v->is_object()) return nullptr;
    auto it = v->find(p);
    if (it == v->end()) return nullptr;
    v = &*it;
  }
  return v->is_null() ? nullptr : v;
}

bool Present(const json& root, const Path& path) {
  return Find(root, path) != nullptr;
}

Result<std::string> RequiredString(const json& root, const Path& path, size_t max_bytes) {
  return StringAt(root, path, max_bytes, /*required=*/true, /*text=*/false);
}

Result<std::string> OptionalString(const json& root, const Path& path, size_t max_bytes) {
  return StringAt(root, path, max_bytes, /*required=*/false, /*text=*/false);
}

Result<std::string> OptionalText(const json& root, const Path& path, size_t max_bytes) {
  return StringAt(root, path, max_bytes, /*required=*/false, /*text=*/true);
}

Result<bool> OptionalBool(const json& root, const Path& path) {
  const json* v = Find(root, path);
  if (v == nullptr) return false;
  if (!v->is_boolean()) return WrongType(path, "a boolean");
  return v->get<bool>();
}

Result<int64_t> RequiredId(const json& root, const Path& path) {
  constexpr int64_t kMax = int64_t{1} << 53;
  const json* v = Find(root, path);
  if (v == nullptr) return InvalidArgument("field " + PathName(path) + " is missing");
  int64_t n = 0;
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(kMax)) return WrongType(path, "a positive integer up to 2^53");
    n = static_cast<int64_t>(u);
  } else if (v->is_number_integer()) {
    n = v->get<int64_t>();
  } else if (v->is_string()) {
    const auto& s = v->get_ref<const std::string&>();
    if (s.empty() || s.size() > 16 || s.find_first_not_of("0123456789") != std::string::npos) {
      return WrongType(path, "a positive integer up to 2^53");
    }
    n = std::stoll(s);
  } else {
    return WrongType(path, "a positive integer up to 2^53");
  }
  if (n <= 0 || n > kMax) return WrongType(path, "a positive integer up to 2^53");
  return n;
}

}  // namespace slipway::webhooks::internal
