#include "engine/runtime/log.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "engine/base/fs.h"

namespace slipway {

void FdSink::Write(Stream stream, std::string_view data) {
  // A reader that went away loses its copy; the log file still has it.
  (void)WriteAll(stream == Stream::kStdout ? out_ : err_, data, "output");
}

Result<LogWriter> LogWriter::Create(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640));
  if (!fd) return ErrnoStatus("create " + path);
  return LogWriter(std::move(fd));
}

Status LogWriter::Append(Stream stream, std::string_view data) {
  do {
    std::string_view part = data.substr(0, kMaxFramePayload);
    data.remove_prefix(part.size());
    auto header = EncodeFrameHeader(stream, static_cast<uint32_t>(part.size()));
    iovec iov[2] = {{header.data(), header.size()}, {const_cast<char*>(part.data()), part.size()}};
    // One writev keeps header and payload together for a concurrent reader.
    ssize_t want = static_cast<ssize_t>(header.size() + part.size());
    ssize_t n = ::writev(fd_.get(), iov, 2);
    if (n != want) return ErrnoStatus("write log");
  } while (!data.empty());
  return Status::Ok();
}

Result<uint64_t> ReadLog(const std::string& path, uint64_t offset,
                         const std::function<void(Stream, std::string_view)>& chunk) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open " + path);
  FrameDecoder decoder({}, chunk);
  char buf[65536];
  uint64_t at = offset;
  for (;;) {
    ssize_t n = ::pread(fd.get(), buf, sizeof buf, static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read " + path);
    if (n == 0) break;
    at += static_cast<uint64_t>(n);
    Status st = decoder.Feed(std::string_view(buf, static_cast<size_t>(n)));
    if (!st.ok()) {
      return Internal("corrupt log " + path + " at byte " +
                      std::to_string(offset + decoder.complete_bytes()) + ": " + st.message());
    }
  }
  // A chunk still being written is read again next time, whole.
  return offset + decoder.complete_bytes();
}

}  // namespace slipway
