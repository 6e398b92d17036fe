// SecretBox with real key files in a scratch directory, and sealed values
// attacked as someone with write access to the database would: flipped
// bytes, cut values, values copied to another row, another key.
#include "pipelines/secret_box.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "engine/base/fs.h"
#include "tests/testing/fixtures.h"

namespace slipway::pipelines {
namespace {

namespace fs = std::filesystem;

constexpr char kPlaintext[] = "hunter2-npm-token-0123456789";
constexpr char kPlace[] = "repo/app/secret/NPM_TOKEN";

std::string Hex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

class SecretBoxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("slipway-secret-box");
    key_path_ = dir_ + "/secrets.key";
  }
  void TearDown() override { fs::remove_all(dir_); }

  SecretBox Load(const std::string& path) {
    auto box = SecretBox::LoadOrCreate(path);
    if (!box.ok()) ADD_FAILURE() << box.status().ToString();
    return std::move(box).value();
  }
  // A file of `size` bytes with `mode`, set by chmod (the test plants it).
  void Plant(const std::string& path, size_t size, mode_t mode) {
    std::ofstream(path) << std::string(size, 'k');
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
  }
  std::string LoadError(const std::string& path) {
    auto box = SecretBox::LoadOrCreate(path);
    EXPECT_FALSE(box.ok()) << "key file at " << path << " was accepted";
    return box.ok() ? "" : box.status().message();
  }
  // Neither the plaintext, the key nor the sealed bytes, raw or in hex.
  void ExpectNothingSecretIn(const std::string& message, const std::string& sealed) {
    std::string key = ReadFile(key_path_).value();
    for (const std::string& secret : {std::string(kPlaintext), key, sealed,
                                      sealed.substr(1 + SecretBox::kNonceSize, sizeof(kPlaintext) - 1)}) {
      EXPECT_EQ(message.find(secret), std::string::npos) << message;
      EXPECT_EQ(message.find(Hex(secret)), std::string::npos) << message;
    }
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  }

  std::string dir_, key_path_;
};

TEST_F(SecretBoxTest, CreatesKeyFileRootOnlyWhateverTheUmask) {
  mode_t old = ::umask(0);  // a create-then-chmod would leave a window at 0666
  auto box = SecretBox::LoadOrCreate(key_path_);
  ::umask(old);
  ASSERT_TRUE(box.ok()) << box.status().ToString();
  struct stat st;
  ASSERT_EQ(::lstat(key_path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_size, static_cast<off_t>(SecretBox::kKeySize));
  // Nothing left beside it (the file is written aside and linked in).
  EXPECT_EQ(testing::ListTree(dir_), std::vector<std::string>{key_path_});
}

TEST_F(SecretBoxTest, KeyIsRandomAndKeptAcrossLoads) {
  SecretBox first = Load(key_path_);
  std::string key = ReadFile(key_path_).value();
  EXPECT_NE(key, std::string(SecretBox::kKeySize, '\0'));
  auto sealed = first.Seal(kPlaintext, kPlace);
  ASSERT_TRUE(sealed.ok());
  SecretBox again = Load(key_path_);  // a restart
  EXPECT_EQ(ReadFile(key_path_).value(), key);
  auto opened = again.Open(*sealed, kPlace);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, kPlaintext);

  SecretBox other = Load(dir_ + "/other.key");
  EXPECT_NE(ReadFile(dir_ + "/other.key").value(), key);
}

TEST_F(SecretBoxTest, RoundTrip) {
  SecretBox box = Load(key_path_);
  std::string binary;
  for (int i = 0; i < 256; ++i) binary += static_cast<char>(i);
  for (const std::string& plaintext :
       {std::string(), std::string("x"), std::string(kPlaintext), binary, std::string(1 << 20, '\0')}) {
    for (const std::string& place : {std::string(), std::string(kPlace), binary}) {
      auto sealed = box.Seal(plaintext, place);
      ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
      ASSERT_EQ(sealed->size(), SecretBox::kOverhead + plaintext.size());
      EXPECT_EQ(static_cast<unsigned char>((*sealed)[0]), SecretBox::kVersion);
      if (plaintext.size() >= 8) {  // shorter ones turn up in random bytes
        EXPECT_EQ(sealed->find(plaintext), std::string::npos);
      }
      auto opened = box.Open(*sealed, place);
      ASSERT_TRUE(opened.ok()) << opened.status().ToString();
      EXPECT_EQ(*opened, plaintext);
    }
  }
}

TEST_F(SecretBoxTest, MovedBoxKeepsItsKey) {
  SecretBox box = Load(key_path_);
  auto sealed = box.Seal(kPlaintext, kPlace);
  ASSERT_TRUE(sealed.ok());
  SecretBox moved = std::move(box);
  auto opened = moved.Open(*sealed, kPlace);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, kPlaintext);
}

TEST_F(SecretBoxTest, EveryAlteredByteIsRefused) {
  SecretBox box = Load(key_path_);
  const std::string sealed = box.Seal(kPlaintext, kPlace).value();
  for (size_t i = 0; i < sealed.size(); ++i) {
    for (unsigned char flip : {0x01, 0x80, 0xff}) {
      std::string altered = sealed;
      altered[i] = static_cast<char>(altered[i] ^ flip);
      auto opened = box.Open(altered, kPlace);
      ASSERT_FALSE(opened.ok()) << "byte " << i << " ^ " << int(flip) << " was accepted";
      ExpectNothingSecretIn(opened.status().message(), sealed);
    }
  }
}

TEST_F(SecretBoxTest, ValueCopiedToAnotherPlaceDoesNotOpen) {
  SecretBox box = Load(key_path_);
  const std::string sealed = box.Seal(kPlaintext, kPlace).value();
  for (const char* place :
       {"repo/app/secret/OTHER", "repo/other/secret/NPM_TOKEN", "repo/app/secret/NPM_TOKEN ",
        "repo/app/secret/NPM_TOKE", "", "REPO/app/secret/NPM_TOKEN"}) {
    auto opened = box.Open(sealed, place);
    ASSERT_FALSE(opened.ok()) << "opened under \"" << place << "\"";
    ExpectNothingSecretIn(opened.status().message(), sealed);
  }
  // Sealed with no place, it does not open at one either.
  auto unplaced = box.Seal(kPlaintext, "").value();
  EXPECT_FALSE(box.Open(unplaced, kPlace).ok());
}

TEST_F(SecretBoxTest, AnotherKeyDoesNotOpen) {
  SecretBox box = Load(key_path_);
  const std::string sealed = box.Seal(kPlaintext, kPlace).value();
  SecretBox other = Load(dir_ + "/other.key");
  auto opened = other.Open(sealed, kPlace);
  ASSERT_FALSE(opened.ok());
  ExpectNothingSecretIn(opened.status().message(), sealed);
  // Nor does the right key file after someone rewrote it.
  fs::remove(key_path_);
  SecretBox recreated = Load(key_path_);
  EXPECT_FALSE(recreated.Open(sealed, kPlace).ok());
}

TEST_F(SecretBoxTest, TruncatedOrExtendedIsRefused) {
  SecretBox box = Load(key_path_);
  const std::string sealed = box.Seal(kPlaintext, kPlace).value();
  for (size_t n = 0; n < sealed.size(); ++n) {
    auto opened = box.Open(sealed.substr(0, n), kPlace);
    ASSERT_FALSE(opened.ok()) << "a prefix of " << n << " bytes was accepted";
    ExpectNothingSecretIn(opened.status().message(), sealed);
  }
  EXPECT_FALSE(box.Open(sealed + '\0', kPlace).ok());
  EXPECT_FALSE(box.Open(sealed.substr(1), kPlace).ok());
  // An empty value sealed is still authenticated: its 29 bytes cut short fail.
  const std::string empty = box.Seal("", kPlace).value();
  EXPECT_FALSE(box.Open(empty.substr(0, empty.size() - 1), kPlace).ok());
}

TEST_F(SecretBoxTest, UnknownVersionIsRefused) {
  SecretBox box = Load(key_path_);
  std::string sealed = box.Seal(kPlaintext, kPlace).value();
  sealed[0] = 2;
  auto opened = box.Open(sealed, kPlace);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find("version 2"), std::string::npos) << opened.status().message();
}

TEST_F(SecretBoxTest, NoncesNeverRepeat) {
  SecretBox box = Load(key_path_);
  std::set<std::string> nonces, sealed_values;
  constexpr int kSeals = 20000;
  for (int i = 0; i < kSeals; ++i) {
    std::string sealed = box.Seal(kPlaintext, kPlace).value();
    nonces.insert(sealed.substr(1, SecretBox::kNonceSize));
    sealed_values.insert(sealed);
  }
  EXPECT_EQ(nonces.size(), static_cast<size_t>(kSeals));
  EXPECT_EQ(sealed_values.size(), static_cast<size_t>(kSeals));
}

TEST_F(SecretBoxTest, ExistingKeyFileWithWrongModeIsRefused) {
  for (mode_t mode : {0644, 0640, 0604, 0400, 0700, 0660, 04600}) {
    fs::remove(key_path_);
    Plant(key_path_, SecretBox::kKeySize, mode);
    std::string error = LoadError(key_path_);
    EXPECT_NE(error.find(key_path_), std::string::npos) << error;
    EXPECT_NE(error.find("mode"), std::string::npos) << error;
    EXPECT_NE(error.find("not 0600"), std::string::npos) << error;
    // Refused, not repaired: the file is as it was.
    struct stat st;
    ASSERT_EQ(::stat(key_path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, mode);
  }
}

TEST_F(SecretBoxTest, ExistingKeyFileOfWrongSizeIsRefused) {
  for (size_t size :
       {size_t{0}, size_t{16}, SecretBox::kKeySize - 1, SecretBox::kKeySize + 1, size_t{4096}}) {
    fs::remove(key_path_);
    Plant(key_path_, size, 0600);
    std::string error = LoadError(key_path_);
    EXPECT_NE(error.find(key_path_), std::string::npos) << error;
    EXPECT_NE(error.find(std::to_string(size) + " bytes"), std::string::npos) << error;
  }
}

TEST_F(SecretBoxTest, ExistingKeyFileNotOwnedByRootIsRefused) {
  Plant(key_path_, SecretBox::kKeySize, 0600);
  ASSERT_EQ(::chown(key_path_.c_str(), 1000, 1000), 0);
  std::string error = LoadError(key_path_);
  EXPECT_NE(error.find(key_path_), std::string::npos) << error;
  EXPECT_NE(error.find("uid 1000"), std::string::npos) << error;
}

TEST_F(SecretBoxTest, SymlinkIsRefusedNotFollowed) {
  // A link to a perfectly good key: still refused (whoever can plant a link
  // in the data dir picks which key slipwayd uses).
  SecretBox good = Load(dir_ + "/good.key");
  ASSERT_EQ(::symlink((dir_ + "/good.key").c_str(), key_path_.c_str()), 0);
  std::string error = LoadError(key_path_);
  EXPECT_NE(error.find(key_path_), std::string::npos) << error;
  EXPECT_NE(error.find("symbolic link"), std::string::npos) << error;

  // A dangling link: nothing is created at its target.
  fs::remove(key_path_);
  ASSERT_EQ(::symlink((dir_ + "/planted").c_str(), key_path_.c_str()), 0);
  error = LoadError(key_path_);
  EXPECT_NE(error.find("symbolic link"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(dir_ + "/planted"));
}

TEST_F(SecretBoxTest, NonRegularFilesAreRefused) {
  ASSERT_EQ(::mkdir(key_path_.c_str(), 0600), 0);
  std::string error = LoadError(key_path_);
  EXPECT_NE(error.find(key_path_), std::string::npos) << error;
  ::rmdir(key_path_.c_str());

  // A FIFO must not hang the daemon waiting for a writer.
  ASSERT_EQ(::mkfifo(key_path_.c_str(), 0600), 0);
  error = LoadError(key_path_);
  EXPECT_NE(error.find("not a regular file"), std::string::npos) << error;
}

TEST_F(SecretBoxTest, MissingDirectoryIsAnErrorNamingIt) {
  std::string error = LoadError(dir_ + "/missing/secrets.key");
  EXPECT_NE(error.find(dir_ + "/missing/"), std::string::npos) << error;
}

TEST_F(SecretBoxTest, ConcurrentFirstStartsAgreeOnOneKey) {
  for (int round = 0; round < 20; ++round) {
    const std::string path = dir_ + "/race-" + std::to_string(round) + ".key";
    std::vector<Result<SecretBox>> boxes;
    for (int i = 0; i < 4; ++i) boxes.emplace_back(InvalidArgument("not run"));
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&, i] { boxes[i] = SecretBox::LoadOrCreate(path); });
    }
    for (auto& t : threads) t.join();
    ASSERT_TRUE(boxes[0].ok()) << boxes[0].status().ToString();
    auto sealed = boxes[0]->Seal(kPlaintext, kPlace);
    for (auto& box : boxes) {
      ASSERT_TRUE(box.ok()) << box.status().ToString();
      auto opened = box->Open(*sealed, kPlace);
      ASSERT_TRUE(opened.ok()) << "two keys were created at " << path;
    }
  }
  // No temporary files left behind by the losers.
  for (const std::string& name : ListDir(dir_)) EXPECT_EQ(name.find(".tmp-"), std::string::npos) << name;
}

}  // namespace
}  // namespace slipway::pipelines
