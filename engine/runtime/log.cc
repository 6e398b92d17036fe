#include "engine/runtime/log.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

namespace slipway {

namespace {
void WriteFully(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the reader went away; the log file still has it
    data.remove_prefix(static_cast<size_t>(n));
  }
}
}  // namespace

void FdSink::Write(Stream stream, std::string_view data) {
  WriteFully(stream == Stream::kStdout ? out_ : err_, data);
}

Result<LogWriter> LogWriter::Create(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640));
  if (!fd) return ErrnoStatus("create " + path);
  return LogWriter(std::move(fd));
}

Status LogWriter::Append(Stream stream, std::string_view data) {
  uint32_t size = static_cast<uint32_t>(data.size());
  unsigned char header[8] = {static_cast<unsigned char>(stream),
                             0,
                             0,
                             0,
                             static_cast<unsigned char>(size >> 24),
                             static_cast<unsigned char>(size >> 16),
                             static_cast<unsigned char>(size >> 8),
                             static_cast<unsigned char>(size)};
  iovec iov[2] = {{header, sizeof header}, {const_cast<char*>(data.data()), data.size()}};
  // One writev keeps header and payload together for a concurrent reader.
  ssize_t want = static_cast<ssize_t>(sizeof header + data.size());
  ssize_t n = ::writev(fd_.get(), iov, 2);
  if (n != want) return ErrnoStatus("write log");
  return Status::Ok();
}

Result<uint64_t> ReadLog(const std::string& path, uint64_t offset,
                         const std::function<void(Stream, std::string_view)>& chunk) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open " + path);
  std::string buf;
  char tmp[65536];
  for (;;) {
    ssize_t n = ::pread(fd.get(), tmp, sizeof tmp, static_cast<off_t>(offset + buf.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read " + path);
    if (n == 0) break;
    buf.append(tmp, static_cast<size_t>(n));
  }
  size_t pos = 0;
  while (buf.size() - pos >= 8) {
    const auto* h = reinterpret_cast<const unsigned char*>(buf.data() + pos);
    uint32_t size = (uint32_t{h[4]} << 24) | (uint32_t{h[5]} << 16) | (uint32_t{h[6]} << 8) | h[7];
    if (h[0] != 1 && h[0] != 2)
      return Internal("corrupt log " + path + " at byte " + std::to_string(offset + pos));
    if (buf.size() - pos - 8 < size) break;  // a chunk still being written
    chunk(static_cast<Stream>(h[0]), std::string_view(buf.data() + pos + 8, size));
    pos += 8 + size;
  }
  return offset + pos;
}

}  // namespace slipway
