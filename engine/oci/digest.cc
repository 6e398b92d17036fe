#include "engine/oci/digest.h"

#include <openssl/sha.h>

#include "engine/base/ascii.h"

namespace slipway {

Result<Digest> Digest::Parse(std::string_view text) {
  constexpr std::string_view kPrefix = "sha256:";
  auto bad = [&] {
    return InvalidArgument("invalid digest \"" + std::string(text.substr(0, 100)) +
                           "\": want sha256:<64 hex digits>");
  };
  if (!text.starts_with(kPrefix)) return bad();
  std::string_view hex = text.substr(kPrefix.size());
  if (hex.size() != 64) return bad();
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return bad();
  }
  return Digest(std::string(hex));
}

Digest Digest::Of(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Finish();
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
}

void Sha256::Update(std::string_view data) {
  EVP_DigestUpdate(ctx_.get(), data.data(), data.size());
}

Digest Sha256::Finish() {
  unsigned char md[SHA256_DIGEST_LENGTH];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), md, &len);
  return Digest::FromHex(HexEncode(std::string_view(reinterpret_cast<const char*>(md), len)));
}

Digest ChainId(const Digest& parent_chain, const Digest& diff_id) {
  if (parent_chain.empty()) return diff_id;
  return Digest::Of(parent_chain.str() + " " + diff_id.str());
}

std::vector<Digest> ChainIds(const std::vector<Digest>& diff_ids) {
  std::vector<Digest> out;
  Digest parent;
  for (const auto& d : diff_ids) {
    parent = ChainId(parent, d);
    out.push_back(parent);
  }
  return out;
}

}  // namespace slipway
