// SecretBox: repository secrets encrypted at rest with AES-256-GCM (OpenSSL
// EVP), under one key file that only root can read.
//
// The key file holds 32 random bytes (OpenSSL's RAND_priv_bytes). It is
// created at first use, mode 0600, with O_CREAT | O_EXCL | O_NOFOLLOW and the
// mode given to open(2) itself (never chmod'ed afterwards), written beside
// its final path and hard-linked there (link(2) never replaces), so a crash
// never leaves a short key and two processes starting at once agree on one
// key. An existing key file
// is used only if it is a regular file (not a symlink: opened with
// O_NOFOLLOW), owned by root, mode exactly 0600 and exactly 32 bytes long;
// anything else is an error naming the path and the reason, never silently
// replaced (that would make every stored secret unreadable). A crash while
// the key is being created may leave "<path>.tmp-*" (root's, 0600, never
// read); nothing was sealed under it.
//
// Sealed format, version 1:
//   0x01 || 12-byte random nonce || ciphertext (as long as the plaintext) || 16-byte GCM tag
// The version byte and the caller's associated data are authenticated: the
// associated data names the value's place (e.g. "repo/NAME/secret/KEY"), so
// a sealed value copied to another row, repository or key name fails to
// open. With random 96-bit nonces, NIST SP 800-38D allows 2^32 seals per
// key; each `repo secret set` is one seal, so a CI stays far below that
// (a rotation of the key is not needed, and not offered).
//
// Errors never contain the plaintext, the key or the sealed bytes (only
// lengths); callers wrap them with the place they were reading. The key is
// wiped from memory when the box is destroyed. Seal and Open are const and
// thread-safe (each call has its own cipher context).
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "engine/base/status.h"

namespace slipway::pipelines {

class SecretBox {
 public:
  static constexpr size_t kKeySize = 32;
  static constexpr size_t kNonceSize = 12;
  static constexpr size_t kTagSize = 16;
  static constexpr unsigned char kVersion = 1;
  // The size of a sealed empty value: version, nonce and tag.
  static constexpr size_t kOverhead = 1 + kNonceSize + kTagSize;

  // Loads the key file at `key_path`, creating it first if it does not exist
  // (its directory must exist).
  static Result<SecretBox> LoadOrCreate(const std::string& key_path);

  SecretBox(SecretBox&& other) noexcept;
  SecretBox& operator=(SecretBox&& other) noexcept;
  SecretBox(const SecretBox&) = delete;
  SecretBox& operator=(const SecretBox&) = delete;
  ~SecretBox();

  // The sealed bytes (binary, kOverhead + plaintext.size() long).
  Result<std::string> Seal(std::string_view plaintext, std::string_view associated_data) const;
  // The plaintext, or an error if `sealed` is truncated, of an unknown
  // version, altered, sealed under another key or with other associated data.
  Result<std::string> Open(std::string_view sealed, std::string_view associated_data) const;

 private:
  SecretBox() = default;
  void Wipe();

  std::array<unsigned char, kKeySize> key_{};
};

}  // namespace slipway::pipelines
