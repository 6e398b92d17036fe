// Decompression of one layer-sized input per library: zlib and ISA-L's igzip
// for gzip, libzstd for zstd, through engine/image/decompress.h exactly as a
// pull unpacks a layer (256 KiB chunks in and out). MB/s is of compressed
// input (bytes_per_second), as bench/pull reports it; "out_MB/s" is the
// uncompressed stream. BM_Sha256 is the diff_id's hash over the same
// uncompressed stream, the other per-byte cost of an unpack.
//
// The input: a real layer. $INFLATE_BENCH_TAR names an uncompressed tar
// (e.g. one of bench/pull's layers, `gzip -dc BLOB > x.tar`); without it, a
// tar(1) of /usr/lib/x86_64-linux-gnu's shared libraries cut at 40 MiB and
// one of /usr/lib/python3.11 cut at 24 MiB (the stuff of bench/pull's two
// big layers). It is compressed once, in process: gzip at level 6 (moby's
// default), zstd at level 3 (its default, and BuildKit's).
//
//   bazel run -c opt //bench/image:inflate_bench
#include <benchmark/benchmark.h>
#include <stdio.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "engine/image/decompress.h"
#include "engine/oci/digest.h"

namespace slipway {
namespace {

constexpr size_t kLibBytes = 40 << 20, kPythonBytes = 24 << 20;

std::string ReadCommand(const std::string& command, size_t limit) {
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) throw std::runtime_error("popen " + command);
  std::string out;
  char buf[1 << 16];
  size_t n;
  while (out.size() < limit && (n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  if (out.size() > limit) out.resize(limit);
  return out;
}

std::string Gzip(const std::string& in, int level) {
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2");
  std::string out(deflateBound(&z, in.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate");
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string Zstd(const std::string& in, int level) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), level);
  if (ZSTD_isError(n)) throw std::runtime_error(ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

struct Inputs {
  std::string tar, gz, zst;
  Inputs() {
    const char* path = std::getenv("INFLATE_BENCH_TAR");
    if (path) {
      tar = ReadCommand(std::string("cat '") + path + "'", size_t{1} << 34);
    } else {
      // Sorted names, so the same machine gives the same input: 40 MB of
      // libraries, 24 MB of Python (two tars back to back: one stream to
      // inflate all the same).
      tar = ReadCommand(
          "cd /usr/lib && find x86_64-linux-gnu -maxdepth 1 -name '*.so*' -type f | sort | "
          "tar -cf - --no-recursion -T - 2>/dev/null",
          kLibBytes);
      tar += ReadCommand(
          "cd /usr/lib && find python3.11 -type f | sort | tar -cf - --no-recursion -T - 2>/dev/null",
          kPythonBytes);
    }
    if (tar.empty()) throw std::runtime_error("no input");
    gz = Gzip(tar, 6);
    zst = Zstd(tar, 3);
  }
};

const Inputs& Get() {
  static const Inputs inputs;
  return inputs;
}

Decompressor::ReadFn FromString(const std::string& input) {
  size_t pos = 0;
  return [&input, pos](uint8_t* buf, size_t size) mutable -> Result<size_t> {
    size_t n = std::min(size, input.size() - pos);
    std::memcpy(buf, input.data() + pos, n);
    pos += n;
    return n;
  };
}

void Run(benchmark::State& state, Codec codec, GzipInflater inflater) {
  const Inputs& in = Get();
  const std::string& compressed = codec == Codec::kGzip ? in.gz : in.zst;
  for (auto _ : state) {
    auto d = NewDecompressor(codec, FromString(compressed), inflater);
    size_t total = 0;
    for (;;) {
      const void* data;
      Result<size_t> n = d->Read(&data);
      if (!n.ok()) {
        state.SkipWithError(n.status().message().c_str());
        return;
      }
      if (*n == 0) break;
      benchmark::DoNotOptimize(data);
      total += *n;
    }
    if (total != in.tar.size()) {
      state.SkipWithError("wrong length");
      return;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * compressed.size()));
  state.counters["out_MB/s"] = benchmark::Counter(static_cast<double>(in.tar.size()) / 1e6,
                                                  benchmark::Counter::kIsIterationInvariantRate);
  state.counters["in_MB"] = static_cast<double>(compressed.size()) / 1e6;
  state.counters["ratio"] = static_cast<double>(in.tar.size()) / static_cast<double>(compressed.size());
}

void BM_GzipZlib(benchmark::State& state) {
  Run(state, Codec::kGzip, GzipInflater::kZlib);
}
void BM_GzipIgzip(benchmark::State& state) {
  if (!IsalAvailable()) {
    state.SkipWithError("built without ISA-L (--define=isal=off)");
    return;
  }
  Run(state, Codec::kGzip, GzipInflater::kIsal);
}
void BM_Zstd(benchmark::State& state) {
  Run(state, Codec::kZstd, GzipInflater::kIsal);
}
void BM_Sha256(benchmark::State& state) {
  const std::string& tar = Get().tar;
  for (auto _ : state) {
    Sha256 h;
    for (size_t pos = 0; pos < tar.size(); pos += 256 << 10) {
      h.Update(tar.data() + pos, std::min<size_t>(256 << 10, tar.size() - pos));
    }
    benchmark::DoNotOptimize(h.Finish());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * tar.size()));
}

BENCHMARK(BM_GzipZlib)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GzipIgzip)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Zstd)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Sha256)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace slipway

BENCHMARK_MAIN();
