// ScanRequestHead: the framing of a request from its head alone, as a
// hostile client would try to bend it.
#include "service/daemon/request_head.h"

#include <gtest/gtest.h>

#include <string>

namespace slipway::daemon {
namespace {

constexpr size_t kHead = 1024;
constexpr uint64_t kBody = 1 << 20;

RequestHead Scan(const std::string& bytes) {
  size_t scanned = 0;
  return ScanRequestHead(bytes, &scanned, kHead, kBody);
}

std::string Post(const std::string& length_line) {
  return "POST /api/v1/containers HTTP/1.1\r\nHost: x\r\n" + length_line + "\r\n\r\n";
}

TEST(RequestHeadTest, CompleteHeadWithABody) {
  std::string head = Post("Content-Length: 17");
  RequestHead h = Scan(head + "{\"image\": \"box\"}");
  ASSERT_EQ(h.verdict, RequestHead::Verdict::kComplete) << h.message;
  EXPECT_EQ(h.head_bytes, head.size());
  EXPECT_EQ(h.body_bytes, 17u);
  EXPECT_EQ(h.method, "POST");
  EXPECT_EQ(h.target, "/api/v1/containers");
}

TEST(RequestHeadTest, NoContentLengthIsNoBody) {
  RequestHead h = Scan("GET /healthz HTTP/1.1\r\n\r\n");
  ASSERT_EQ(h.verdict, RequestHead::Verdict::kComplete);
  EXPECT_EQ(h.body_bytes, 0u);
}

TEST(RequestHeadTest, HeaderNamesAreCaseInsensitive) {
  RequestHead h = Scan(Post("cOnTeNt-LeNgTh:   42  "));
  ASSERT_EQ(h.verdict, RequestHead::Verdict::kComplete);
  EXPECT_EQ(h.body_bytes, 42u);
}

TEST(RequestHeadTest, LengthOverTheLimitIs413BeforeTheBody) {
  for (const char* length : {"1048577", "999999999999", "999999999999999999"}) {
    RequestHead h = Scan(Post(std::string("Content-Length: ") + length));
    EXPECT_EQ(h.verdict, RequestHead::Verdict::kRefused) << length;
    EXPECT_EQ(h.status, 413) << length;
    EXPECT_EQ(h.code, "payload_too_large") << length;
  }
  EXPECT_EQ(Scan(Post("Content-Length: 1048576")).verdict, RequestHead::Verdict::kComplete);
}

TEST(RequestHeadTest, MalformedLengthsAre400) {
  for (const char* length :
       {"-5", "+5", "9223372036854775808", "18446744073709551616", "1 2", "0x10", "1e3", "", "5,5", "\x01"}) {
    RequestHead h = Scan(Post(std::string("Content-Length: ") + length));
    EXPECT_EQ(h.verdict, RequestHead::Verdict::kRefused) << length;
    EXPECT_EQ(h.status, 400) << length;
    EXPECT_EQ(h.code, "invalid_argument") << length;
  }
}

TEST(RequestHeadTest, TwoLengthsAre400EvenIfEqual) {
  RequestHead h = Scan(Post("Content-Length: 2\r\nContent-Length: 2"));
  EXPECT_EQ(h.status, 400);
  h = Scan(Post("Content-Length: 2\r\nContent-Length: 900"));
  EXPECT_EQ(h.status, 400);
}

TEST(RequestHeadTest, TransferEncodingIs411) {
  for (const char* te : {"chunked", "gzip, chunked", "identity"}) {
    RequestHead h = Scan(Post(std::string("Transfer-Encoding: ") + te));
    EXPECT_EQ(h.status, 411) << te;
    EXPECT_EQ(h.code, "length_required") << te;
  }
  // Both, the classic smuggling pair: refused too.
  EXPECT_EQ(Scan(Post("Content-Length: 5\r\nTransfer-Encoding: chunked")).status, 411);
}

TEST(RequestHeadTest, IncompleteHeadWaitsUntilTheLimit) {
  std::string partial = "POST /api/v1/containers HTTP/1.1\r\nContent-Length: 5\r\n";
  EXPECT_EQ(Scan(partial).verdict, RequestHead::Verdict::kIncomplete);
  // A body sent without any head end is cut off at the head limit.
  RequestHead h = Scan(std::string(kHead + 1, 'a'));
  EXPECT_EQ(h.verdict, RequestHead::Verdict::kRefused);
  EXPECT_EQ(h.status, 431);
  EXPECT_EQ(h.code, "headers_too_large");
  // A whole head that is too long: the same.
  h = Scan(Post("X-Pad: " + std::string(kHead, 'p')));
  EXPECT_EQ(h.status, 431);
}

TEST(RequestHeadTest, HeadArrivingInPiecesIsFoundAcrossThem) {
  std::string whole = Post("Content-Length: 3") + "abc";
  std::string bytes;
  size_t scanned = 0;
  RequestHead h;
  for (char c : whole) {  // one byte at a time, the blank line split everywhere
    bytes.push_back(c);
    h = ScanRequestHead(bytes, &scanned, kHead, kBody);
    if (h.verdict != RequestHead::Verdict::kIncomplete) break;
  }
  ASSERT_EQ(h.verdict, RequestHead::Verdict::kComplete);
  EXPECT_EQ(h.head_bytes, whole.size() - 3);
  EXPECT_EQ(h.body_bytes, 3u);
}

}  // namespace
}  // namespace slipway::daemon
