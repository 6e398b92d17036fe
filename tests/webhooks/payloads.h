// The documented-shape payloads under tests/webhooks/payloads/<forge>/, as
// the tests' data (the test's cwd is its runfiles directory).
#pragma once

#include <string>
#include <vector>

namespace slipway::webhooks::testing {

// The file's bytes; fails the test (and returns "") when it cannot be read.
std::string Payload(const std::string& forge, const std::string& name);

// Every payload file of every forge, as "<forge>/<name>.json".
std::vector<std::string> AllPayloads();

}  // namespace slipway::webhooks::testing
