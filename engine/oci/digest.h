// Content digests ("sha256:<64 hex>") and a streaming SHA-256 (OpenSSL EVP).
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"

namespace slipway {

class Digest {
 public:
  Digest() = default;
  // Accepts only "sha256:" followed by 64 lowercase hex digits: a digest is
  // also a file name in the content store, so nothing else may get through.
  static Result<Digest> Parse(std::string_view text);
  static Digest FromHex(std::string hex) { return Digest(std::move(hex)); }
  // The digest of `data`.
  static Digest Of(std::string_view data);

  const std::string& hex() const { return hex_; }
  std::string str() const { return "sha256:" + hex_; }
  bool empty() const { return hex_.empty(); }
  bool operator==(const Digest&) const = default;
  auto operator<=>(const Digest&) const = default;

 private:
  explicit Digest(std::string hex) : hex_(std::move(hex)) {}
  std::string hex_;
};

// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  void Update(std::string_view data);
  void Update(const void* data, size_t size) {
    Update(std::string_view(static_cast<const char*>(data), size));
  }
  // The digest of everything so far; the hasher may not be used afterwards.
  Digest Finish();

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

// The chain id of a layer stack, as the OCI image spec defines it:
// chain(L0) = diff(L0); chain(Ln) = sha256(chain(Ln-1) + " " + diff(Ln)).
Digest ChainId(const Digest& parent_chain, const Digest& diff_id);
// The chain ids of a whole layer stack, bottom first.
std::vector<Digest> ChainIds(const std::vector<Digest>& diff_ids);

}  // namespace slipway
