#include "engine/runtime/frame.h"

#include <algorithm>
#include <cstring>

namespace slipway {

std::array<char, kFrameHeaderSize> EncodeFrameHeader(Stream stream, uint32_t size) {
  return {static_cast<char>(stream),
          0,
          0,
          0,
          static_cast<char>((size >> 24) & 0xff),
          static_cast<char>((size >> 16) & 0xff),
          static_cast<char>((size >> 8) & 0xff),
          static_cast<char>(size & 0xff)};
}

std::string EncodeFrame(Stream stream, std::string_view payload) {
  auto header = EncodeFrameHeader(stream, static_cast<uint32_t>(payload.size()));
  std::string frame;
  frame.reserve(header.size() + payload.size());
  frame.append(header.data(), header.size());
  frame.append(payload);
  return frame;
}

Status FrameDecoder::StartFrame() {
  auto byte = [&](int i) { return static_cast<uint32_t>(static_cast<unsigned char>(header_[i])); };
  const uint32_t id = byte(0);
  const bool known = id == static_cast<uint32_t>(Stream::kStdout) ||
                     id == static_cast<uint32_t>(Stream::kStderr) ||
                     (id == static_cast<uint32_t>(Stream::kEnd) && options_.allow_end);
  if (!known) return InvalidArgument("frame header names stream " + std::to_string(id));
  if (byte(1) | byte(2) | byte(3)) return InvalidArgument("frame header has non-zero padding");
  const uint32_t size = byte(4) << 24 | byte(5) << 16 | byte(6) << 8 | byte(7);
  if (size > kMaxFramePayload) {
    return InvalidArgument("frame of " + std::to_string(size) + " bytes is larger than the limit of " +
                           std::to_string(kMaxFramePayload));
  }
  stream_ = static_cast<Stream>(id);
  size_ = remaining_ = size;
  in_payload_ = true;
  return Status::Ok();
}

void FrameDecoder::Deliver(std::string_view piece) {
  const bool last = remaining_ == 0;
  if (options_.output_in_pieces && stream_ != Stream::kEnd) {
    if (!piece.empty()) sink_(stream_, piece);
  } else if (last && whole_.empty()) {
    sink_(stream_, piece);  // the whole payload came in one piece: no copy
  } else {
    whole_.append(piece);
    if (last) {
      sink_(stream_, whole_);
      whole_.clear();
    }
  }
  if (last) {
    in_payload_ = false;
    complete_bytes_ += kFrameHeaderSize + size_;
  }
}

Status FrameDecoder::Feed(std::string_view data) {
  if (!error_.ok()) return error_;
  while (!data.empty()) {
    if (!in_payload_) {
      size_t take = std::min(kFrameHeaderSize - header_size_, data.size());
      std::memcpy(header_ + header_size_, data.data(), take);
      header_size_ += take;
      data.remove_prefix(take);
      if (header_size_ < kFrameHeaderSize) break;
      header_size_ = 0;
      error_ = StartFrame();
      if (!error_.ok()) return error_;
      if (remaining_ == 0) Deliver({});
      continue;
    }
    size_t take = std::min<size_t>(remaining_, data.size());
    remaining_ -= static_cast<uint32_t>(take);
    Deliver(data.substr(0, take));
    data.remove_prefix(take);
  }
  return Status::Ok();
}

}  // namespace slipway
