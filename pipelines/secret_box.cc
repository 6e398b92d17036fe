#include "pipelines/secret_box.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <memory>

#include "engine/base/fd.h"
#include "engine/base/fs.h"

namespace slipway::pipelines {

namespace {

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// A std::string that is wiped when it goes out of scope unless released:
// a plaintext buffer on an error path must not stay in freed memory.
class WipedString {
 public:
  explicit WipedString(size_t size) : s_(size, '\0') {}
  ~WipedString() {
    if (!s_.empty()) OPENSSL_cleanse(s_.data(), s_.size());
  }
  unsigned char* data() { return reinterpret_cast<unsigned char*>(s_.data()); }
  // A copy for the caller; this buffer is still wiped (a moved-from short
  // string would keep its bytes in place).
  std::string Release() const { return s_; }

 private:
  std::string s_;
};

// The checks an existing key file must pass, on the open descriptor (so no
// rename between the check and the read can swap the file).
Status CheckKeyFile(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus("fstat " + path);
  if (!S_ISREG(st.st_mode)) return FailedPrecondition("key file " + path + " is not a regular file");
  if (st.st_uid != 0) {
    return FailedPrecondition("key file " + path + " is owned by uid " + std::to_string(st.st_uid) +
                              ", not root");
  }
  if ((st.st_mode & 07777) != 0600) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return FailedPrecondition("key file " + path + " has mode " + mode + ", not 0600");
  }
  if (st.st_size != static_cast<off_t>(SecretBox::kKeySize)) {
    return FailedPrecondition("key file " + path + " is " + std::to_string(st.st_size) + " bytes, not " +
                              std::to_string(SecretBox::kKeySize));
  }
  return Status::Ok();
}

// Reads exactly key.size() bytes.
Status ReadKey(int fd, const std::string& path, unsigned char* key, size_t size) {
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::read(fd, key + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read " + path);
    if (n == 0) return FailedPrecondition("key file " + path + " is shorter than it said");
    got += static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Writes a new random key beside `path` and links it there. link(2) never
// replaces: if another process created the key first, ours is dropped and
// the caller loads theirs (kAlreadyExists).
Status CreateKeyFile(const std::string& path) {
  unsigned char key[SecretBox::kKeySize];
  if (RAND_priv_bytes(key, sizeof(key)) != 1) return Internal("RAND_priv_bytes for key file " + path);
  const std::string tmp = path + ".tmp-" + RandomHex(4);
  // The mode is given here, at creation: the file is never readable by
  // others, not even between creat and chmod. A umask that takes the
  // owner's bits away is caught by the check below.
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) {
    OPENSSL_cleanse(key, sizeof(key));
    return ErrnoStatus("create " + tmp);
  }
  Status st = WriteAll(fd.get(), std::string_view(reinterpret_cast<char*>(key), sizeof(key)), tmp);
  OPENSSL_cleanse(key, sizeof(key));
  if (st.ok() && ::fsync(fd.get()) != 0) st = ErrnoStatus("fsync " + tmp);
  if (st.ok()) st = CheckKeyFile(fd.get(), tmp);
  fd.reset();
  if (st.ok() && ::link(tmp.c_str(), path.c_str()) != 0) {
    st = errno == EEXIST ? AlreadyExists(path + " exists") : ErrnoStatus("link " + tmp + " to " + path);
  }
  ::unlink(tmp.c_str());
  if (!st.ok()) return st;
  size_t slash = path.rfind('/');
  return FsyncDir(slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash));
}

}  // namespace

Result<SecretBox> SecretBox::LoadOrCreate(const std::string& key_path) {
  // Twice at most: a key file that another process links in between our
  // open and our link is loaded on the second pass.
  for (int attempt = 0; attempt < 2; ++attempt) {
    // O_NONBLOCK: a FIFO planted at the path must not hang the daemon; it is
    // refused by the check like any other non-regular file.
    UniqueFd fd(::open(key_path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd && errno == ELOOP) {
      return FailedPrecondition("key file " + key_path + " is a symbolic link, refused");
    }
    if (!fd && errno == ENOENT) {
      Status st = CreateKeyFile(key_path);
      if (!st.ok() && st.code() != Code::kAlreadyExists) return st.Wrap("create key file");
      continue;
    }
    if (!fd) return ErrnoStatus("open key file " + key_path);
    SLIPWAY_RETURN_IF_ERROR(CheckKeyFile(fd.get(), key_path));
    SecretBox box;
    SLIPWAY_RETURN_IF_ERROR(ReadKey(fd.get(), key_path, box.key_.data(), box.key_.size()));
    return box;
  }
  return Internal("key file " + key_path + " vanished while it was being created");
}

SecretBox::SecretBox(SecretBox&& other) noexcept : key_(other.key_) {
  other.Wipe();
}

SecretBox& SecretBox::operator=(SecretBox&& other) noexcept {
  if (this != &other) {
    key_ = other.key_;
    other.Wipe();
  }
  return *this;
}

SecretBox::~SecretBox() {
  Wipe();
}

void SecretBox::Wipe() {
  OPENSSL_cleanse(key_.data(), key_.size());
}

Result<std::string> SecretBox::Seal(std::string_view plaintext, std::string_view associated_data) const {
  if (plaintext.size() > INT_MAX - kOverhead || associated_data.size() > INT_MAX) {
    return InvalidArgument("secret of " + std::to_string(plaintext.size()) + " bytes is too large to seal");
  }
  std::string out(kOverhead + plaintext.size(), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  p[0] = kVersion;
  unsigned char* nonce = p + 1;
  unsigned char* ciphertext = nonce + kNonceSize;
  unsigned char* tag = ciphertext + plaintext.size();
  if (RAND_bytes(nonce, kNonceSize) != 1) return Internal("RAND_bytes for a nonce");

  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  // The version byte is authenticated with the caller's data, so a future
  // format cannot be passed off as this one.
  const unsigned char version = kVersion;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, &version, 1) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), ciphertext, &len, Bytes(plaintext), static_cast<int>(plaintext.size())) !=
          1 ||
      EVP_EncryptFinal_ex(ctx.get(), ciphertext + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, tag) != 1) {
    return Internal("AES-256-GCM encryption failed");
  }
  return out;
}

Result<std::string> SecretBox::Open(std::string_view sealed, std::string_view associated_data) const {
  if (sealed.size() < kOverhead) {
    return InvalidArgument("sealed value is truncated: " + std::to_string(sealed.size()) +
                           " bytes, at least " + std::to_string(kOverhead) + " expected");
  }
  if (static_cast<unsigned char>(sealed[0]) != kVersion) {
    return InvalidArgument("sealed value has unknown format version " +
                           std::to_string(static_cast<unsigned char>(sealed[0])));
  }
  if (sealed.size() > INT_MAX || associated_data.size() > INT_MAX) {
    return InvalidArgument("sealed value of " + std::to_string(sealed.size()) + " bytes is too large");
  }
  const unsigned char* nonce = Bytes(sealed) + 1;
  const unsigned char* ciphertext = nonce + kNonceSize;
  const size_t ciphertext_size = sealed.size() - kOverhead;
  const unsigned char* tag = ciphertext + ciphertext_size;

  WipedString plaintext(ciphertext_size);
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  const unsigned char version = kVersion;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), nonce) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, &version, 1) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), plaintext.data(), &len, ciphertext, static_cast<int>(ciphertext_size)) !=
          1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, const_cast<unsigned char*>(tag)) != 1) {
    return Internal("AES-256-GCM decryption failed");
  }
  // Only the tag check says whether the bytes are genuine; until it passes,
  // the decrypted bytes are wiped, never returned.
  if (EVP_DecryptFinal_ex(ctx.get(), plaintext.data() + len, &len) != 1) {
    return InvalidArgument(
        "sealed value does not authenticate: altered, sealed under another key, or moved from "
        "another place");
  }
  return plaintext.Release();
}

}  // namespace slipway::pipelines
