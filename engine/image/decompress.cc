#include "engine/image/decompress.h"

#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#ifdef SLIPWAY_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

namespace slipway {
namespace {

constexpr size_t kInChunk = 256 << 10;   // compressed bytes read at once
constexpr size_t kOutChunk = 256 << 10;  // uncompressed bytes handed out at once
// A gzip header's optional name, comment and extra field can be long, but not
// this long in any layer: past it the header is refused rather than buffered.
constexpr size_t kMaxGzipHeader = 1 << 20;

// The compressed input: a window over what `read` gave, refilled on demand.
class Input {
 public:
  explicit Input(Decompressor::ReadFn read) : read_(std::move(read)), buf_(kInChunk) {}

  const uint8_t* data() const { return buf_.data() + pos_; }
  size_t size() const { return len_ - pos_; }
  bool eof() const { return eof_; }
  int64_t total() const { return total_; }
  void Consume(size_t n) { pos_ += n; }

  // Appends more input after what is left (moved to the front, or the buffer
  // grown when it is all unconsumed). At the end of the source, sets eof().
  Status Fill() {
    if (eof_) return Status::Ok();
    if (pos_ > 0) {
      std::memmove(buf_.data(), buf_.data() + pos_, len_ - pos_);
      len_ -= pos_;
      pos_ = 0;
    }
    if (len_ == buf_.size()) {
      if (buf_.size() >= kMaxGzipHeader) return InvalidArgument("gzip: header longer than 1 MiB");
      buf_.resize(buf_.size() * 2);
    }
    SLIPWAY_ASSIGN_OR_RETURN(size_t n, read_(buf_.data() + len_, buf_.size() - len_));
    if (n == 0) eof_ = true;
    len_ += n;
    total_ += static_cast<int64_t>(n);
    return Status::Ok();
  }

 private:
  Decompressor::ReadFn read_;
  std::vector<uint8_t> buf_;
  size_t pos_ = 0, len_ = 0;
  int64_t total_ = 0;
  bool eof_ = false;
};

// --- gzip ---------------------------------------------------------------------

enum class Header { kValid, kIncomplete, kInvalid };

// RFC 1952's member header, judged as libarchive's gzip reader judges it
// (peek_at_header): what starts another member, and what is trailing data.
Header ParseGzipHeader(const uint8_t* p, size_t n) {
  if (n >= 1 && p[0] != 0x1f) return Header::kInvalid;
  if (n >= 2 && p[1] != 0x8b) return Header::kInvalid;
  if (n >= 3 && p[2] != 8) return Header::kInvalid;           // deflate
  if (n >= 4 && (p[3] & 0xe0) != 0) return Header::kInvalid;  // reserved flag bits
  if (n < 10) return Header::kIncomplete;
  const uint8_t flags = p[3];
  size_t len = 10;
  if (flags & 4) {  // FEXTRA
    if (n < len + 2) return Header::kIncomplete;
    len += 2 + (p[len] | (p[len + 1] << 8));
  }
  for (uint8_t bit : {uint8_t{8}, uint8_t{16}}) {  // FNAME, FCOMMENT: NUL-terminated
    if (!(flags & bit)) continue;
    for (;; ++len) {
      if (len >= n) return Header::kIncomplete;
      if (p[len] == 0) break;
    }
    ++len;
  }
  if (flags & 2) len += 2;  // FHCRC
  return len <= n ? Header::kValid : Header::kIncomplete;
}

// One member's inflate, by zlib or ISA-L.
class Inflater {
 public:
  virtual ~Inflater() = default;
  virtual void Reset() = 0;  // a new member, header first
  // Inflates from `in` into `out`, advancing both; sets *member_end when the
  // member's trailer has been read (and checked).
  virtual Status Step(const uint8_t** in, size_t* in_len, uint8_t** out, size_t* out_len,
                      bool* member_end) = 0;
  virtual const char* name() const = 0;
};

class ZlibInflater : public Inflater {
 public:
  ZlibInflater() {
    std::memset(&z_, 0, sizeof z_);
    ok_ = inflateInit2(&z_, 15 + 16) == Z_OK;  // 15 + 16: gzip wrapper only
  }
  ~ZlibInflater() override { inflateEnd(&z_); }
  const char* name() const override { return "zlib"; }
  void Reset() override { inflateReset(&z_); }
  Status Step(const uint8_t** in, size_t* in_len, uint8_t** out, size_t* out_len, bool* member_end) override {
    if (!ok_) return Internal("gzip: inflateInit2 failed");
    z_.next_in = const_cast<Bytef*>(*in);
    z_.avail_in = static_cast<uInt>(*in_len);
    z_.next_out = *out;
    z_.avail_out = static_cast<uInt>(*out_len);
    int rc = inflate(&z_, Z_NO_FLUSH);
    *in_len -= static_cast<size_t>(z_.next_in - *in);
    *in = z_.next_in;
    *out_len -= static_cast<size_t>(z_.next_out - *out);
    *out = z_.next_out;
    *member_end = rc == Z_STREAM_END;
    if (rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR) return Status::Ok();  // BUF: no progress
    return InvalidArgument(std::string("gzip: corrupt data (zlib: ") +
                           (z_.msg ? z_.msg : "error " + std::to_string(rc)) + ")");
  }

 private:
  z_stream z_;
  bool ok_;
};

#ifdef SLIPWAY_HAVE_ISAL
class IsalInflater : public Inflater {
 public:
  IsalInflater() { Reset(); }
  const char* name() const override { return "isal"; }
  void Reset() override {
    isal_inflate_init(&s_);
    s_.crc_flag = ISAL_GZIP;  // parse the header, check the trailer's CRC-32
  }
  Status Step(const uint8_t** in, size_t* in_len, uint8_t** out, size_t* out_len, bool* member_end) override {
    s_.next_in = const_cast<uint8_t*>(*in);
    s_.avail_in = static_cast<uint32_t>(*in_len);
    s_.next_out = *out;
    s_.avail_out = static_cast<uint32_t>(*out_len);
    int rc = isal_inflate(&s_);
    // At a member's end igzip gives back the input it had read ahead, so
    // next_in is exactly past the trailer.
    *in_len -= static_cast<size_t>(s_.next_in - *in);
    *in = s_.next_in;
    *out_len -= static_cast<size_t>(s_.next_out - *out);
    *out = s_.next_out;
    *member_end = s_.block_state == ISAL_BLOCK_FINISH;
    if (rc >= 0) return Status::Ok();
    return InvalidArgument(std::string("gzip: corrupt data (igzip: ") + IsalError(rc) + ")");
  }

 private:
  static const char* IsalError(int rc) {
    switch (rc) {
      case ISAL_INVALID_BLOCK: return "invalid block";
      case ISAL_INVALID_SYMBOL: return "invalid symbol";
      case ISAL_INVALID_LOOKBACK: return "invalid distance";
      case ISAL_INVALID_WRAPPER: return "invalid header";
      case ISAL_UNSUPPORTED_METHOD: return "unsupported method";
      case ISAL_INCORRECT_CHECKSUM: return "incorrect check";
      default: return "error";
    }
  }
  inflate_state s_;
};
#endif

class GzipDecompressor : public Decompressor {
 public:
  GzipDecompressor(Input input, std::unique_ptr<Inflater> inflater)
      : in_(std::move(input)), inflater_(std::move(inflater)), out_(kOutChunk) {}

  Result<size_t> Read(const void** data) override {
    *data = out_.data();
    for (;;) {
      if (done_) return 0;
      if (at_member_start_) {
        SLIPWAY_ASSIGN_OR_RETURN(bool another, NextMember());
        if (!another) {
          done_ = true;  // what follows the last member is ignored
          return 0;
        }
        inflater_->Reset();
        at_member_start_ = false;
        first_ = false;
      }
      if (in_.size() == 0 && !in_.eof()) SLIPWAY_RETURN_IF_ERROR(in_.Fill());
      const uint8_t* in = in_.data();
      size_t in_len = in_.size(), before = in_len;
      uint8_t* out = out_.data();
      size_t out_len = out_.size();
      bool member_end = false;
      // Called with no input too: igzip may still hold output.
      SLIPWAY_RETURN_IF_ERROR(inflater_->Step(&in, &in_len, &out, &out_len, &member_end));
      in_.Consume(before - in_len);
      size_t produced = out_.size() - out_len;
      if (member_end) at_member_start_ = true;
      if (produced > 0) return produced;
      if (member_end) continue;
      if (before == in_len) {  // no progress: more input, or there is none
        if (in_.eof()) return InvalidArgument("gzip: truncated input");
        SLIPWAY_RETURN_IF_ERROR(in_.Fill());
      }
    }
  }

  int64_t bytes_in() const override { return in_.total(); }
  const char* name() const override { return inflater_->name(); }

  // At a member boundary: whether a complete, valid member header follows,
  // reading as much as it takes to tell.
  Result<bool> NextMember() {
    for (;;) {
      Header h = ParseGzipHeader(in_.data(), in_.size());
      if (h == Header::kValid) return true;
      if (h == Header::kInvalid || in_.eof()) {
        if (first_) return InvalidArgument("gzip: not a gzip stream");
        return false;
      }
      SLIPWAY_RETURN_IF_ERROR(in_.Fill());
    }
  }

 private:
  Input in_;
  std::unique_ptr<Inflater> inflater_;
  std::vector<uint8_t> out_;
  bool at_member_start_ = true;
  bool first_ = true;
  bool done_ = false;
};

// --- zstd ---------------------------------------------------------------------

class ZstdDecompressor : public Decompressor {
 public:
  explicit ZstdDecompressor(Input input) : in_(std::move(input)), out_(kOutChunk), z_(ZSTD_createDStream()) {}
  ~ZstdDecompressor() override { ZSTD_freeDStream(z_); }

  Result<size_t> Read(const void** data) override {
    if (!z_) return Internal("zstd: ZSTD_createDStream failed");
    *data = out_.data();
    for (;;) {
      if (in_.size() == 0 && !in_.eof()) SLIPWAY_RETURN_IF_ERROR(in_.Fill());
      if (in_.size() == 0 && in_.eof() && !pending_) {
        if (!started_) return InvalidArgument("zstd: empty input");
        if (left_ != 0) return InvalidArgument("zstd: truncated input");
        return 0;
      }
      ZSTD_inBuffer in{in_.data(), in_.size(), 0};
      ZSTD_outBuffer out{out_.data(), out_.size(), 0};
      size_t rc = ZSTD_decompressStream(z_, &out, &in);
      if (ZSTD_isError(rc))
        return InvalidArgument(std::string("zstd: corrupt data (") + ZSTD_getErrorName(rc) + ")");
      started_ = true;
      in_.Consume(in.pos);
      // A call that did nothing (no input, the output flushed already) says
      // what the next frame would need: the last real call's hint stands.
      if (in.pos > 0 || out.pos > 0) left_ = rc;
      // A full output buffer may leave more in the decoder, input or not.
      pending_ = out.pos == out.size;
      if (out.pos > 0) return out.pos;
      if (in.pos == 0 && in_.size() > 0) {  // stuck on what input there is
        if (in_.eof()) return InvalidArgument("zstd: truncated input");
        SLIPWAY_RETURN_IF_ERROR(in_.Fill());
      }
    }
  }

  int64_t bytes_in() const override { return in_.total(); }
  const char* name() const override { return "zstd"; }

 private:
  Input in_;
  std::vector<uint8_t> out_;
  ZSTD_DStream* z_;
  size_t left_ = 0;  // ZSTD_decompressStream's hint: 0 at a frame's end
  bool pending_ = false;
  bool started_ = false;
};

std::unique_ptr<Inflater> MakeInflater(GzipInflater which) {
#ifdef SLIPWAY_HAVE_ISAL
  if (which == GzipInflater::kIsal) return std::make_unique<IsalInflater>();
#else
  (void)which;
#endif
  return std::make_unique<ZlibInflater>();
}

std::unique_ptr<Decompressor> Make(Codec codec, Input input, GzipInflater inflater) {
  if (codec == Codec::kZstd) return std::make_unique<ZstdDecompressor>(std::move(input));
  return std::make_unique<GzipDecompressor>(std::move(input), MakeInflater(inflater));
}

}  // namespace

bool IsalAvailable() {
#ifdef SLIPWAY_HAVE_ISAL
  return true;
#else
  return false;
#endif
}

GzipInflater DefaultGzipInflater() {
  const char* env = std::getenv("SLIPWAY_GZIP_INFLATER");
  if (env && std::string_view(env) == "zlib") return GzipInflater::kZlib;
  return IsalAvailable() ? GzipInflater::kIsal : GzipInflater::kZlib;
}

const char* GzipInflaterName(GzipInflater inflater) {
  return inflater == GzipInflater::kIsal && IsalAvailable() ? "isal" : "zlib";
}

const char* CodecName(Codec codec) {
  return codec == Codec::kGzip ? "gzip" : "zstd";
}

Result<std::unique_ptr<Decompressor>> SniffDecompressor(Decompressor::ReadFn read, GzipInflater inflater,
                                                        Codec* codec) {
  Input input(std::move(read));
  // The magic and the header's fixed part, or the end of the stream.
  while (input.size() < 10 && !input.eof()) SLIPWAY_RETURN_IF_ERROR(input.Fill());
  Codec found;
  static constexpr uint8_t kZstdMagic[4] = {0x28, 0xb5, 0x2f, 0xfd};
  if (input.size() >= 4 && std::memcmp(input.data(), kZstdMagic, 4) == 0) {
    found = Codec::kZstd;
  } else {
    Header h;
    while ((h = ParseGzipHeader(input.data(), input.size())) == Header::kIncomplete && !input.eof()) {
      SLIPWAY_RETURN_IF_ERROR(input.Fill());
    }
    if (h != Header::kValid) return std::unique_ptr<Decompressor>();
    found = Codec::kGzip;
  }
  if (codec) *codec = found;
  return Make(found, std::move(input), inflater);
}

std::unique_ptr<Decompressor> NewDecompressor(Codec codec, Decompressor::ReadFn read, GzipInflater inflater) {
  return Make(codec, Input(std::move(read)), inflater);
}

Decompressor::ReadFn PreadFn(int fd, int64_t offset) {
  return [fd, offset](uint8_t* buf, size_t size) mutable -> Result<size_t> {
    for (;;) {
      ssize_t n = ::pread(fd, buf, size, offset);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoStatus("pread");
      offset += n;
      return static_cast<size_t>(n);
    }
  };
}

}  // namespace slipway
