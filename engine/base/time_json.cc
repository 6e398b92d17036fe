#include "engine/base/time_json.h"

#include "engine/base/time.h"

namespace slipway {

nlohmann::ordered_json Rfc3339Millis(int64_t unix_ms) {
  if (unix_ms == 0) return nullptr;
  return FormatRfc3339Millis(unix_ms);
}

Result<int64_t> Rfc3339MillisFromJson(const nlohmann::ordered_json& value) {
  if (value.is_null()) return int64_t{0};
  if (!value.is_string()) return InvalidArgument("a time must be an RFC 3339 string or null");
  return ParseRfc3339Millis(value.get_ref<const std::string&>());
}

}  // namespace slipway
