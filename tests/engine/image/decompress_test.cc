// Our gzip (igzip and zlib) and zstd decompression against libarchive's, the
// reader layers went through before: on real layer tars made by the real
// tools (tar, gzip, zstd), the same bytes out, and the same decision on
// multi-member gzip, trailing data and streams cut short. Inputs are also fed
// a few bytes at a time, so that headers, member boundaries and frames fall
// across reads.
#include "engine/image/decompress.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <zstd.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/base/fs.h"
#include "tests/engine/image/test_layers.h"
#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

// What a reader made of a stream: its bytes, or that it failed (and why).
struct Outcome {
  bool ok = false;
  std::string data;
  std::string error;
};

// libarchive's raw reader with the gzip and zstd filters, as layer_unpack.cc
// used it before it had decompressors of its own.
Outcome Libarchive(const std::string& input) {
  Outcome out;
  archive* a = archive_read_new();
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_format_raw(a);
  archive_read_support_format_empty(a);
  archive_entry* e;
  if (archive_read_open_memory(a, input.data(), input.size()) != ARCHIVE_OK ||
      archive_read_next_header(a, &e) < ARCHIVE_WARN) {
    out.error = archive_error_string(a) ? archive_error_string(a) : "?";
    archive_read_free(a);
    return out;
  }
  for (;;) {
    const void* buf;
    size_t size;
    la_int64_t offset;
    int rc = archive_read_data_block(a, &buf, &size, &offset);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) {
      out.error = archive_error_string(a) ? archive_error_string(a) : "?";
      archive_read_free(a);
      return out;
    }
    out.data.append(static_cast<const char*>(buf), size);
  }
  archive_read_free(a);
  out.ok = true;
  return out;
}

// A source handing out `input` at most `step` bytes per read (0: all it can).
Decompressor::ReadFn FromString(const std::string& input, size_t step) {
  size_t pos = 0;
  return [input, step, pos](uint8_t* buf, size_t size) mutable -> Result<size_t> {
    size_t n = std::min(size, input.size() - pos);
    if (step) n = std::min(n, step);
    std::memcpy(buf, input.data() + pos, n);
    pos += n;
    return n;
  };
}

Outcome Ours(const std::string& input, GzipInflater inflater, size_t step = 0, Codec* codec = nullptr) {
  Outcome out;
  auto d = SniffDecompressor(FromString(input, step), inflater, codec);
  if (!d.ok()) {
    out.error = d.status().message();
    return out;
  }
  if (!*d) {
    out.error = "(not gzip or zstd)";
    return out;
  }
  for (;;) {
    const void* data;
    Result<size_t> n = (*d)->Read(&data);
    if (!n.ok()) {
      out.error = n.status().message();
      return out;
    }
    if (*n == 0) break;
    out.data.append(static_cast<const char*>(data), *n);
  }
  // Trailing data after the last gzip member may be left unread.
  EXPECT_LE((*d)->bytes_in(), static_cast<int64_t>(input.size()));
  out.ok = true;
  return out;
}

class DecompressTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::MakeTempDir("decompress"));
    // A real layer: the tar of a real directory, as tar(1) writes it, about
    // 6 MB of Python sources and byte code (many files, very compressible)
    // and shared libraries (big, less so).
    Run("tar -C /usr/lib/python3.11 -cf " + *dir_ + "/layer.tar email json logging xml");
    Run("tar -C /usr/lib/x86_64-linux-gnu -cf " + *dir_ +
        "/libs.tar libz.so.1 libzstd.so.1 libarchive.so.13");
    tar_ = new std::string(testing::ReadFileOrEmpty(*dir_ + "/layer.tar"));
    libs_ = new std::string(testing::ReadFileOrEmpty(*dir_ + "/libs.tar"));
    // gzip(1) at its default level, with the file name in the header
    // (FNAME), and zstd(1).
    Run("gzip -6 -k " + *dir_ + "/layer.tar");
    Run("gzip -1 -c " + *dir_ + "/libs.tar >" + *dir_ + "/libs.tar.gz");
    Run("zstd -q -3 -k " + *dir_ + "/layer.tar");
    gz_ = new std::string(testing::ReadFileOrEmpty(*dir_ + "/layer.tar.gz"));
    libs_gz_ = new std::string(testing::ReadFileOrEmpty(*dir_ + "/libs.tar.gz"));
    zst_ = new std::string(testing::ReadFileOrEmpty(*dir_ + "/layer.tar.zst"));
  }
  static void TearDownTestSuite() { (void)RemoveTree(*dir_); }

  static void Run(const std::string& command) { ASSERT_EQ(std::system(command.c_str()), 0) << command; }

  // Every inflater, whole and in small reads, decides as libarchive does;
  // returns libarchive's outcome.
  static Outcome ExpectSameAsLibarchive(const std::string& input, const std::string& what) {
    Outcome want = Libarchive(input);
    for (GzipInflater inflater : {GzipInflater::kIsal, GzipInflater::kZlib}) {
      for (size_t step : {size_t{0}, size_t{7}, size_t{4093}}) {
        Outcome got = Ours(input, inflater, step);
        std::string where = what + ", " + GzipInflaterName(inflater) + ", reads of " + std::to_string(step);
        EXPECT_EQ(got.ok, want.ok) << where << ": ours: " << got.error << "; libarchive: " << want.error;
        if (got.ok && want.ok) EXPECT_TRUE(got.data == want.data) << where << ": different bytes";
      }
    }
    return want;
  }

  static std::string* dir_;
  static std::string *tar_, *libs_, *gz_, *libs_gz_, *zst_;
};
std::string* DecompressTest::dir_;
std::string *DecompressTest::tar_, *DecompressTest::libs_, *DecompressTest::gz_, *DecompressTest::libs_gz_,
    *DecompressTest::zst_;

TEST_F(DecompressTest, IsalIsBuiltIn) {
  // The fast path is what this build is for; --define=isal=off would say so.
  EXPECT_TRUE(IsalAvailable());
}

TEST_F(DecompressTest, RealLayersInflateToTheSameBytesWithIgzipAndZlib) {
  ASSERT_GT(tar_->size(), size_t{1} << 20);
  Codec codec;
  Outcome isal = Ours(*gz_, GzipInflater::kIsal, 0, &codec);
  EXPECT_EQ(codec, Codec::kGzip);
  Outcome zlib = Ours(*gz_, GzipInflater::kZlib);
  ASSERT_TRUE(isal.ok) << isal.error;
  ASSERT_TRUE(zlib.ok) << zlib.error;
  EXPECT_TRUE(isal.data == *tar_);
  EXPECT_TRUE(zlib.data == *tar_);
  EXPECT_TRUE(ExpectSameAsLibarchive(*gz_, "layer.tar.gz").data == *tar_);
  EXPECT_TRUE(ExpectSameAsLibarchive(*libs_gz_, "libs.tar.gz").data == *libs_);
  // libarchive's own gzip writer (a different header: no name, OS byte).
  std::string la_gz = testing::Compress(*libs_, testing::Compression::kGzip);
  EXPECT_TRUE(ExpectSameAsLibarchive(la_gz, "libarchive gzip").data == *libs_);
}

TEST_F(DecompressTest, MultiMemberGzipIsOneStream) {
  // Members of every shape: with a name, without, an empty one between.
  std::string empty_member = testing::Compress("", testing::Compression::kGzip);
  std::string multi = *gz_ + empty_member + *libs_gz_;
  Outcome want = ExpectSameAsLibarchive(multi, "three members");
  ASSERT_TRUE(want.ok) << want.error;
  EXPECT_TRUE(want.data == *tar_ + *libs_);
}

TEST_F(DecompressTest, TrailingDataAfterTheLastMemberIsIgnoredAsBefore) {
  const std::vector<std::pair<std::string, std::string>> tails = {
      {"text", "garbage after the stream\n"},
      {"zeros", std::string(4096, '\0')},
      {"a lone gzip magic", "\x1f\x8b"},
      {"magic and method only", "\x1f\x8b\x08"},
      {"reserved flag bits", std::string("\x1f\x8b\x08\xe0\0\0\0\0\0\x03", 10) + "xyz"},
      {"a header whose name never ends", std::string("\x1f\x8b\x08\x08\0\0\0\0\0\x03", 10) + "name"},
  };
  for (const auto& [what, tail] : tails) {
    Outcome want = ExpectSameAsLibarchive(*gz_ + tail, what);
    EXPECT_TRUE(want.ok) << what << ": " << want.error;
    EXPECT_TRUE(want.data == *tar_) << what;
  }
}

TEST_F(DecompressTest, AStreamCutShortFailsAsBefore) {
  const std::vector<std::pair<std::string, std::string>> cut = {
      {"half the stream", gz_->substr(0, gz_->size() / 2)},
      {"all but the trailer", gz_->substr(0, gz_->size() - 8)},
      {"a second member's header and a little", *gz_ + libs_gz_->substr(0, 100)},
      {"a second member without its trailer", *gz_ + libs_gz_->substr(0, libs_gz_->size() - 3)},
  };
  for (const auto& [what, input] : cut) {
    Outcome want = ExpectSameAsLibarchive(input, what);
    EXPECT_FALSE(want.ok) << what;
    for (GzipInflater inflater : {GzipInflater::kIsal, GzipInflater::kZlib}) {
      Outcome got = Ours(input, inflater);
      EXPECT_NE(got.error.find("gzip:"), std::string::npos) << what << ": " << got.error;
    }
  }
  EXPECT_EQ(Ours(gz_->substr(0, gz_->size() / 2), GzipInflater::kIsal).error, "gzip: truncated input");
}

TEST_F(DecompressTest, CorruptDeflateDataFails) {
  std::string bad = *gz_;
  for (size_t i = bad.size() / 3; i < bad.size() / 3 + 32; ++i) bad[i] = static_cast<char>(bad[i] ^ 0xa5);
  for (GzipInflater inflater : {GzipInflater::kIsal, GzipInflater::kZlib}) {
    Outcome got = Ours(bad, inflater);
    EXPECT_FALSE(got.ok) << GzipInflaterName(inflater);
    EXPECT_NE(got.error.find("gzip: "), std::string::npos) << got.error;
  }
}

// Stricter than libarchive, which never checks a member's CRC-32.
TEST_F(DecompressTest, AWrongCrcOrLengthFails) {
  for (size_t from_end : {size_t{6}, size_t{2}}) {  // in the CRC-32, in the length
    std::string bad = *gz_;
    bad[bad.size() - from_end] = static_cast<char>(bad[bad.size() - from_end] ^ 1);
    for (GzipInflater inflater : {GzipInflater::kIsal, GzipInflater::kZlib}) {
      Outcome got = Ours(bad, inflater);
      EXPECT_FALSE(got.ok) << GzipInflaterName(inflater) << " " << from_end;
      EXPECT_NE(got.error.find("gzip: corrupt data"), std::string::npos) << got.error;
    }
  }
}

TEST_F(DecompressTest, ZstdAsBefore) {
  Codec codec;
  Outcome got = Ours(*zst_, GzipInflater::kIsal, 0, &codec);
  EXPECT_EQ(codec, Codec::kZstd);
  ASSERT_TRUE(got.ok) << got.error;
  EXPECT_TRUE(got.data == *tar_);
  // Several frames are one stream; the gzip inflater has no say.
  Outcome two = ExpectSameAsLibarchive(*zst_ + *zst_, "two frames");
  ASSERT_TRUE(two.ok);
  EXPECT_TRUE(two.data == *tar_ + *tar_);
  // Unlike gzip, trailing data is an error, as is a frame cut short.
  EXPECT_FALSE(ExpectSameAsLibarchive(*zst_ + "garbage", "trailing garbage").ok);
  EXPECT_FALSE(ExpectSameAsLibarchive(zst_->substr(0, zst_->size() / 2), "half").ok);
  EXPECT_FALSE(ExpectSameAsLibarchive(zst_->substr(0, zst_->size() - 1), "last byte missing").ok);
  EXPECT_EQ(Ours(zst_->substr(0, zst_->size() / 2), GzipInflater::kZlib).error, "zstd: truncated input");
  std::string bad = *zst_;
  for (size_t i = bad.size() / 2; i < bad.size() / 2 + 32; ++i) bad[i] = static_cast<char>(bad[i] ^ 0xa5);
  Outcome corrupt = Ours(bad, GzipInflater::kIsal);
  EXPECT_FALSE(corrupt.ok);
  EXPECT_NE(corrupt.error.find("zstd: corrupt data"), std::string::npos) << corrupt.error;
}

// One frame made in one call (the content size in its header, a single
// segment), as libraries rather than zstd(1) write them.
TEST_F(DecompressTest, ZstdOneShotFrame) {
  // Also a window many times the chunks decompress.cc reads and writes, and
  // a stream that ends exactly at the end of one of its output chunks.
  std::string big;
  while (big.size() < (size_t{24} << 20)) big += *tar_;
  big.resize(size_t{24} << 20);
  for (const std::string* input : {tar_, libs_, &big}) {
    std::string z(ZSTD_compressBound(input->size()), '\0');
    size_t n = ZSTD_compress(z.data(), z.size(), input->data(), input->size(), 3);
    ASSERT_FALSE(ZSTD_isError(n));
    z.resize(n);
    if (input == &big) {
      Outcome got = Ours(z, GzipInflater::kIsal);
      ASSERT_TRUE(got.ok) << got.error;
      EXPECT_TRUE(got.data == big);
      continue;
    }
    Outcome want = ExpectSameAsLibarchive(z, "one-shot frame");
    ASSERT_TRUE(want.ok) << want.error;
    EXPECT_TRUE(want.data == *input);
  }
}

// The uncompressed stream ends exactly where an output chunk does, in one
// member and in two.
TEST_F(DecompressTest, GzipEndingOnAChunkBoundary) {
  std::string big;
  while (big.size() < (size_t{8} << 20)) big += *tar_;
  big.resize(size_t{8} << 20);
  std::string gz = testing::Compress(big, testing::Compression::kGzip);
  for (GzipInflater inflater : {GzipInflater::kIsal, GzipInflater::kZlib}) {
    Outcome one = Ours(gz, inflater);
    ASSERT_TRUE(one.ok) << one.error;
    EXPECT_TRUE(one.data == big);
    Outcome two = Ours(gz + gz, inflater, 4093);
    ASSERT_TRUE(two.ok) << two.error;
    EXPECT_TRUE(two.data == big + big);
  }
}

TEST_F(DecompressTest, OtherStreamsAreLeftToLibarchive) {
  EXPECT_EQ(Ours(*tar_, GzipInflater::kIsal).error, "(not gzip or zstd)");
  EXPECT_EQ(Ours("", GzipInflater::kIsal).error, "(not gzip or zstd)");
  EXPECT_EQ(Ours("\x1f\x8b", GzipInflater::kIsal).error, "(not gzip or zstd)");
  const std::string xz = {'\xfd', '7', 'z', 'X', 'Z', '\0'};
  EXPECT_EQ(Ours(xz, GzipInflater::kIsal).error, "(not gzip or zstd)");
}

TEST_F(DecompressTest, TheEnvironmentSelectsZlib) {
  ASSERT_EQ(::setenv("SLIPWAY_GZIP_INFLATER", "zlib", 1), 0);
  EXPECT_EQ(DefaultGzipInflater(), GzipInflater::kZlib);
  ASSERT_EQ(::setenv("SLIPWAY_GZIP_INFLATER", "isal", 1), 0);
  EXPECT_EQ(DefaultGzipInflater(), GzipInflater::kIsal);
  ASSERT_EQ(::unsetenv("SLIPWAY_GZIP_INFLATER"), 0);
  EXPECT_EQ(DefaultGzipInflater(), GzipInflater::kIsal);
}

}  // namespace
}  // namespace slipway
