#include "engine/runtime/frame.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace slipway {
namespace {

using Frames = std::vector<std::pair<Stream, std::string>>;

// A header written out byte by byte, as the format's description says, so
// the test does not check the encoder against itself.
std::string Header(uint8_t stream, uint32_t size) {
  return std::string{static_cast<char>(stream),
                     0,
                     0,
                     0,
                     static_cast<char>(size >> 24),
                     static_cast<char>(size >> 16),
                     static_cast<char>(size >> 8),
                     static_cast<char>(size)};
}

struct Collector {
  Frames frames;
  FrameDecoder decoder;
  explicit Collector(FrameDecoder::Options options)
      : decoder(options, [this](Stream s, std::string_view d) { frames.emplace_back(s, std::string(d)); }) {}
};

TEST(FrameTest, EncodesDockerHeader) {
  EXPECT_EQ(EncodeFrame(Stream::kStdout, "hi"), Header(1, 2) + "hi");
  EXPECT_EQ(EncodeFrame(Stream::kStderr, ""), Header(2, 0));
  std::string big(70000, 'x');
  EXPECT_EQ(EncodeFrame(Stream::kEnd, big), Header(3, 70000) + big);
  auto h = EncodeFrameHeader(Stream::kStdout, 0x01020304);
  EXPECT_EQ(std::string(h.data(), h.size()), std::string("\x01\0\0\0\x01\x02\x03\x04", 8));
}

TEST(FrameTest, RoundTripsWholeFramesFedInOne) {
  std::string stream = EncodeFrame(Stream::kStdout, "out\n") + EncodeFrame(Stream::kStderr, "err") +
                       EncodeFrame(Stream::kStdout, std::string(100000, 'a')) +
                       EncodeFrame(Stream::kEnd, "{}");
  Collector c({.allow_end = true});
  ASSERT_TRUE(c.decoder.Feed(stream).ok());
  EXPECT_EQ(c.frames, (Frames{{Stream::kStdout, "out\n"},
                              {Stream::kStderr, "err"},
                              {Stream::kStdout, std::string(100000, 'a')},
                              {Stream::kEnd, "{}"}}));
  EXPECT_TRUE(c.decoder.at_frame_boundary());
  EXPECT_EQ(c.decoder.complete_bytes(), stream.size());
}

TEST(FrameTest, EverySplitGivesTheSameFrames) {
  std::string stream = EncodeFrame(Stream::kStdout, "hello") + EncodeFrame(Stream::kStderr, "") +
                       EncodeFrame(Stream::kStderr, "x");
  // Every cut point, headers split included; then one byte at a time.
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    Collector c({});
    ASSERT_TRUE(c.decoder.Feed(std::string_view(stream).substr(0, cut)).ok());
    ASSERT_TRUE(c.decoder.Feed(std::string_view(stream).substr(cut)).ok());
    EXPECT_EQ(c.frames, (Frames{{Stream::kStdout, "hello"}, {Stream::kStderr, ""}, {Stream::kStderr, "x"}}))
        << "cut at " << cut;
  }
  Collector c({});
  for (char ch : stream) ASSERT_TRUE(c.decoder.Feed(std::string_view(&ch, 1)).ok());
  EXPECT_EQ(c.frames.size(), 3u);
  EXPECT_EQ(c.frames[0].second, "hello");
}

TEST(FrameTest, SplitHeaderIsNotAFrameYet) {
  Collector c({});
  std::string frame = EncodeFrame(Stream::kStderr, "abc");
  ASSERT_TRUE(c.decoder.Feed(frame.substr(0, 5)).ok());
  EXPECT_TRUE(c.frames.empty());
  EXPECT_FALSE(c.decoder.at_frame_boundary());
  EXPECT_EQ(c.decoder.complete_bytes(), 0u);
  ASSERT_TRUE(c.decoder.Feed(frame.substr(5, 4)).ok());  // header done, one payload byte
  EXPECT_TRUE(c.frames.empty());
  EXPECT_FALSE(c.decoder.at_frame_boundary());
  ASSERT_TRUE(c.decoder.Feed(frame.substr(9)).ok());
  EXPECT_EQ(c.frames, (Frames{{Stream::kStderr, "abc"}}));
  EXPECT_TRUE(c.decoder.at_frame_boundary());
  EXPECT_EQ(c.decoder.complete_bytes(), frame.size());
}

TEST(FrameTest, ZeroLengthFrames) {
  // Whole delivery: each empty frame is one call.
  Collector whole({.allow_end = true});
  ASSERT_TRUE(whole.decoder.Feed(Header(1, 0) + Header(2, 0) + Header(3, 0)).ok());
  EXPECT_EQ(whole.frames, (Frames{{Stream::kStdout, ""}, {Stream::kStderr, ""}, {Stream::kEnd, ""}}));
  EXPECT_EQ(whole.decoder.complete_bytes(), 24u);
  // In pieces: empty output is nothing to pass on, but an empty end frame
  // still says the stream ended.
  Collector pieces({.output_in_pieces = true, .allow_end = true});
  ASSERT_TRUE(pieces.decoder.Feed(Header(1, 0) + Header(2, 0) + Header(3, 0)).ok());
  EXPECT_EQ(pieces.frames, (Frames{{Stream::kEnd, ""}}));
  EXPECT_TRUE(pieces.decoder.at_frame_boundary());
}

TEST(FrameTest, OutputInPiecesIsPassedOnAsItComes) {
  Collector c({.output_in_pieces = true, .allow_end = true});
  std::string out = EncodeFrame(Stream::kStdout, "abcdef");
  std::string end = EncodeFrame(Stream::kEnd, R"({"exit_code":0})");
  ASSERT_TRUE(c.decoder.Feed(out.substr(0, 10)).ok());
  EXPECT_EQ(c.frames, (Frames{{Stream::kStdout, "ab"}}));
  ASSERT_TRUE(c.decoder.Feed(out.substr(10) + end.substr(0, 12)).ok());
  // The end frame is held until whole.
  EXPECT_EQ(c.frames, (Frames{{Stream::kStdout, "ab"}, {Stream::kStdout, "cdef"}}));
  ASSERT_TRUE(c.decoder.Feed(end.substr(12)).ok());
  EXPECT_EQ(c.frames.back(), std::make_pair(Stream::kEnd, std::string(R"({"exit_code":0})")));
}

TEST(FrameTest, RefusesHugeSizeBeforeAllocating) {
  for (uint32_t size : {0xffffffffu, kMaxFramePayload + 1}) {
    for (bool pieces : {false, true}) {
      Collector c({.output_in_pieces = pieces, .allow_end = true});
      std::string good = EncodeFrame(Stream::kStdout, "ok");
      Status st = c.decoder.Feed(good + Header(3, size) + "{");
      EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.ToString();
      EXPECT_NE(st.message().find(std::to_string(size)), std::string::npos) << st.message();
      EXPECT_EQ(c.frames, (Frames{{Stream::kStdout, "ok"}}));
      EXPECT_EQ(c.decoder.complete_bytes(), good.size());  // where the bad header starts
      // The rest of such a stream is not read as frames.
      EXPECT_FALSE(c.decoder.Feed(EncodeFrame(Stream::kStdout, "later")).ok());
      EXPECT_EQ(c.frames.size(), 1u);
    }
  }
  // The limit itself is a size a frame may have.
  Collector c({});
  EXPECT_TRUE(c.decoder.Feed(Header(1, kMaxFramePayload)).ok());
  EXPECT_TRUE(c.frames.empty());
}

TEST(FrameTest, RefusesUnknownStreamsAndPadding) {
  for (const std::string& bad : {Header(0, 1) + "x", Header(4, 1) + "x", Header(0xff, 0),
                                 std::string("\x01\x00\x01\x00\x00\x00\x00\x01x", 9)}) {
    Collector c({.allow_end = true});
    EXPECT_EQ(c.decoder.Feed(bad).code(), Code::kInvalidArgument);
    EXPECT_TRUE(c.frames.empty());
  }
  // An end frame where none may be (a log file, a logs stream).
  Collector c({});
  Status st = c.decoder.Feed(EncodeFrame(Stream::kEnd, "{}"));
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("stream 3"), std::string::npos) << st.message();
  EXPECT_TRUE(c.frames.empty());
}

TEST(FrameTest, StreamCutShortIsNotAtABoundary) {
  Collector c({.output_in_pieces = true});
  ASSERT_TRUE(c.decoder.Feed(EncodeFrame(Stream::kStdout, "abc").substr(0, 9)).ok());
  EXPECT_FALSE(c.decoder.at_frame_boundary());
  EXPECT_EQ(c.frames, (Frames{{Stream::kStdout, "a"}}));
}

}  // namespace
}  // namespace slipway
