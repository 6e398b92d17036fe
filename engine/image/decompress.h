// Our own decompression of gzip and zstd layers, so that inflating a layer
// runs at the speed of the fastest library here rather than libarchive's
// built-in zlib: gzip through ISA-L's igzip (several times zlib's speed on
// x86-64) or zlib, zstd through libzstd. Other formats (xz, bzip2, a plain
// tar) stay with libarchive's filters (layer_unpack.cc).
//
// The decisions are libarchive's, so a layer unpacks (or fails) as it did
// when libarchive inflated it:
// - gzip: members are concatenated (multi-member gzip is one stream). After
//   a member's trailer, the rest is another member only if it starts with a
//   complete, valid gzip header (magic, method 8, no reserved flag bits, its
//   optional fields all present); anything else, zeros, garbage, a partial
//   header, is trailing data and ignored, as libarchive and GNU gzip ignore
//   it. A member cut short, or a corrupt deflate stream, is an error.
//   Stricter than libarchive, which does not check them: a member whose
//   CRC-32 or length does not match its data is an error (zlib and igzip
//   both check it; Docker's Go gzip refuses it too).
// - zstd: frames are concatenated; trailing bytes that are not a frame, and
//   a frame cut short, are errors.
// Either way the caller still hashes what comes out (the diff_id), which is
// what proves a layer is the one its image names.
//
// Which gzip inflater: igzip when built in (third_party:isal), unless the
// environment says SLIPWAY_GZIP_INFLATER=zlib (a fallback, and for
// benchmarking the two against each other).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "engine/base/status.h"

namespace slipway {

enum class GzipInflater { kIsal, kZlib };

// Whether this build has ISA-L (third_party:isal).
bool IsalAvailable();
// The inflater used when a caller does not choose: kIsal when available,
// unless $SLIPWAY_GZIP_INFLATER is "zlib" (read at each call).
GzipInflater DefaultGzipInflater();
const char* GzipInflaterName(GzipInflater inflater);  // "isal", "zlib"

enum class Codec { kGzip, kZstd };
const char* CodecName(Codec codec);  // "gzip", "zstd"

// Reads the compressed stream from a source and hands out the uncompressed
// bytes in chunks. Not thread-safe; one per stream.
class Decompressor {
 public:
  // Fills `buf` with up to `size` compressed bytes; 0 at the end.
  using ReadFn = std::function<Result<size_t>(uint8_t* buf, size_t size)>;

  virtual ~Decompressor() = default;
  // The next chunk of the uncompressed stream; *data stays valid until the
  // next call. 0: the stream has ended. Errors are kInvalidArgument naming
  // the codec and what is wrong ("gzip: truncated input").
  virtual Result<size_t> Read(const void** data) = 0;
  // Compressed bytes taken from the source so far.
  virtual int64_t bytes_in() const = 0;
  // Which library inflates: "isal", "zlib" or "zstd".
  virtual const char* name() const = 0;
};

// A decompressor for the stream `read` yields, if that stream is gzip (it
// starts with a complete, valid gzip header) or zstd (a frame's magic);
// nullptr if it is neither, and then the bytes read to tell are gone from
// `read` (PreadFn: the caller reads the fd again from the start). `*codec`,
// when given, says which.
Result<std::unique_ptr<Decompressor>> SniffDecompressor(Decompressor::ReadFn read, GzipInflater inflater,
                                                        Codec* codec = nullptr);

// A decompressor for `codec` over `read`, without sniffing: a stream that is
// not of that codec is an error on the first Read.
std::unique_ptr<Decompressor> NewDecompressor(Codec codec, Decompressor::ReadFn read, GzipInflater inflater);

// ReadFn over a file descriptor, from `offset` on, with pread: the fd's own
// offset is left alone.
Decompressor::ReadFn PreadFn(int fd, int64_t offset = 0);

}  // namespace slipway
