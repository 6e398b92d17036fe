// libFuzzer target for ParseDelivery and VerifyDelivery: the first byte
// picks the forge and the event, the rest is the body. Built and run by
// run.sh with Debian's clang (not part of the Bazel suite, which runs the
// bounded corpus test hostile_payload_test instead).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "webhooks/forge_event.h"
#include "webhooks/signature.h"

using slipway::webhooks::Forge;
using slipway::webhooks::Headers;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const Headers kHeaders[] = {
      {{"x-github-event", "push"}},
      {{"x-github-event", "pull_request"}},
      {{"x-github-event", "ping"}},
      {{"x-gitea-event", "push"}},
      {{"x-gitea-event", "pull_request"}},
      {{"x-gitlab-event", "Push Hook"}},
      {{"x-gitlab-event", "Tag Push Hook"}},
      {{"x-gitlab-event", "Merge Request Hook"}},
  };
  static const Forge kForges[] = {Forge::kGitHub, Forge::kGitHub, Forge::kGitHub, Forge::kGitea,
                                  Forge::kGitea,  Forge::kGitLab, Forge::kGitLab, Forge::kGitLab};
  size_t pick = data[0] % 8;
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  auto r = slipway::webhooks::ParseDelivery(kForges[pick], kHeaders[pick], body);
  if (r.ok() && r->kind != slipway::webhooks::EventKind::kIgnored && r->kind != slipway::webhooks::EventKind::kPing &&
      r->kind != slipway::webhooks::EventKind::kBranchDeleted && r->commit.size() != 40) {
    std::abort();  // a runnable event always names its commit
  }
  Headers sig = {{"x-hub-signature-256", std::string(body.substr(0, 80))}};
  (void)slipway::webhooks::VerifyDelivery(Forge::kGitHub, sig, body, "secret");
  return 0;
}
