// SigningKey: slipwayd's Ed25519 key, which signs the provenance of every
// image it promotes (provenance.h). Created at slipwayd's first start
// (OpenSSL), kept in a root-only file (0600, in a 0700 directory); its
// public half is served at GET /api/v1/signing-key for anyone to verify.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "engine/base/status.h"

namespace slipway::pipelines {

class SigningKey {
 public:
  // Loads the PEM private key at `path`, or creates it (and its directory)
  // if missing. A key file readable by others than its owner is refused
  // (kPermissionDenied naming the path and its mode).
  static Result<SigningKey> LoadOrCreate(const std::string& path);
  ~SigningKey();
  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;

  std::string PublicKeyPem() const;  // SubjectPublicKeyInfo, PEM
  // "sha256:<hex>" of the DER public key: names the key in envelopes.
  const std::string& key_id() const { return key_id_; }

  // A DSSE envelope (JSON) of `payload`, signed over DssePae(type, payload).
  Result<std::string> SignEnvelope(std::string_view payload_type, std::string_view payload) const;

 private:
  struct Key;
  SigningKey(std::unique_ptr<Key> key, std::string key_id);
  std::unique_ptr<Key> key_;
  std::string key_id_;
};

}  // namespace slipway::pipelines
