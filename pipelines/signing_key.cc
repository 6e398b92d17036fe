#include "pipelines/signing_key.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "engine/base/base64.h"
#include "engine/base/fd.h"
#include "engine/base/fs.h"
#include "engine/oci/digest.h"
#include "pipelines/openssl_handles.h"
#include "pipelines/provenance.h"

namespace slipway::pipelines {

namespace {

std::string Mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// The key file must be ours and nobody else's to read: it signs what every
// verifier trusts. Checked on the open descriptor, so nothing can be swapped
// in between the check and the read.
Status CheckKeyFile(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus("fstat " + path);
  if (!S_ISREG(st.st_mode)) return FailedPrecondition("signing key " + path + " is not a regular file");
  if (st.st_uid != ::geteuid()) {
    return Status(Code::kPermissionDenied, "signing key " + path + " is owned by uid " +
                                               std::to_string(st.st_uid) + ", not by uid " +
                                               std::to_string(::geteuid()));
  }
  if ((st.st_mode & 077) != 0) {
    return Status(Code::kPermissionDenied,
                  "signing key " + path + " has mode " + Mode(st.st_mode) +
                      ": readable or writable by others than its owner, refused (chmod 0600)");
  }
  if (st.st_size > 64 * 1024) return FailedPrecondition("signing key " + path + " is too large to be a key");
  return Status::Ok();
}

// A new Ed25519 key written beside `path` (0600 from open(2) on) and renamed
// there without replacing: a crash leaves either no key or a whole one.
Status CreateKeyFile(const std::string& path) {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) return Internal("Ed25519 key generation failed");
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Internal("PEM encoding of the signing key failed");
  }
  std::string pem = BioContents(bio.get());
  const std::string tmp = path + ".tmp-" + RandomHex(4);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return ErrnoStatus("create " + tmp);
  Status st = WriteAll(fd.get(), pem, tmp);
  OPENSSL_cleanse(pem.data(), pem.size());
  if (st.ok() && ::fsync(fd.get()) != 0) st = ErrnoStatus("fsync " + tmp);
  // A umask cannot add bits, but one that removed the owner's would make
  // the key unreadable: caught here rather than at the next start.
  if (st.ok()) st = CheckKeyFile(fd.get(), tmp);
  fd.reset();
  if (st.ok()) st = RenameNoReplace(tmp, path);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  return FsyncDir(Dirname(path));
}

}  // namespace

struct SigningKey::Key {
  Pkey pkey;
};

SigningKey::SigningKey(std::unique_ptr<Key> key, std::string key_id)
    : key_(std::move(key)), key_id_(std::move(key_id)) {}
SigningKey::~SigningKey() = default;
SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;

Result<SigningKey> SigningKey::LoadOrCreate(const std::string& path) {
  const std::string dir = Dirname(path);
  if (!PathExists(dir)) SLIPWAY_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  struct stat dst;
  if (::stat(dir.c_str(), &dst) != 0) return ErrnoStatus("stat " + dir);
  // Whoever may write the directory may replace the key with theirs.
  if ((dst.st_mode & 022) != 0 && !(dst.st_mode & S_ISVTX)) {
    return Status(Code::kPermissionDenied, "signing key directory " + dir + " has mode " + Mode(dst.st_mode) +
                                               ": writable by others than its owner, refused");
  }
  // Twice at most: a key that another process renames in between our open
  // and our rename is loaded on the second pass.
  for (int attempt = 0; attempt < 2; ++attempt) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd && errno == ELOOP)
      return FailedPrecondition("signing key " + path + " is a symbolic link, refused");
    if (!fd && errno == ENOENT) {
      Status st = CreateKeyFile(path);
      if (!st.ok() && st.code() != Code::kAlreadyExists) return st.Wrap("create signing key");
      continue;
    }
    if (!fd) return ErrnoStatus("open signing key " + path);
    SLIPWAY_RETURN_IF_ERROR(CheckKeyFile(fd.get(), path));
    SLIPWAY_ASSIGN_OR_RETURN(std::string pem, ReadAll(fd.get(), path));
    Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    Pkey pkey(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    OPENSSL_cleanse(pem.data(), pem.size());
    if (!pkey) return InvalidArgument("signing key " + path + " is not a PEM private key");
    if (EVP_PKEY_get_id(pkey.get()) != EVP_PKEY_ED25519) {
      return InvalidArgument("signing key " + path + " is not an Ed25519 key");
    }
    unsigned char* der = nullptr;
    int der_len = i2d_PUBKEY(pkey.get(), &der);
    if (der_len <= 0) return Internal("DER encoding of the public key of " + path + " failed");
    std::string key_id = Digest::Of(std::string_view(reinterpret_cast<char*>(der), der_len)).str();
    OPENSSL_free(der);
    auto key = std::make_unique<Key>();
    key->pkey = std::move(pkey);
    return SigningKey(std::move(key), std::move(key_id));
  }
  return Internal("signing key " + path + " vanished while it was being created");
}

std::string SigningKey::PublicKeyPem() const {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_->pkey.get()) != 1) return "";
  return BioContents(bio.get());
}

Result<std::string> SigningKey::SignEnvelope(std::string_view payload_type, std::string_view payload) const {
  const std::string pae = DssePae(payload_type, payload);
  MdCtx ctx(EVP_MD_CTX_new());
  size_t sig_len = 0;
  // Ed25519 is "pure": no digest is named, the whole message is signed.
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &sig_len, reinterpret_cast<const unsigned char*>(pae.data()),
                     pae.size()) != 1) {
    return Internal("Ed25519 signing failed");
  }
  std::string sig(sig_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(pae.data()), pae.size()) != 1) {
    return Internal("Ed25519 signing failed");
  }
  sig.resize(sig_len);
  nlohmann::ordered_json envelope = {
      {"payloadType", std::string(payload_type)},
      {"payload", Base64Encode(payload)},
      {"signatures", nlohmann::ordered_json::array({{{"keyid", key_id_}, {"sig", Base64Encode(sig)}}})},
  };
  return envelope.dump();
}

}  // namespace slipway::pipelines
