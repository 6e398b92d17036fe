// LogMasker against a plain reference (every occurrence of every secret
// found by brute force, overlapping occurrences merged), with the stream cut
// at every position, at random, and byte by byte.
#include "engine/runtime/log_masker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace slipway {
namespace {

// The specification, written the slow and obvious way.
std::string Reference(const std::string& text, const std::vector<std::string>& secrets) {
  std::vector<std::pair<size_t, size_t>> ranges;
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 1)) {
      ranges.emplace_back(at, at + secret.size());
    }
  }
  std::sort(ranges.begin(), ranges.end());
  std::string out;
  size_t cursor = 0;
  for (size_t i = 0; i < ranges.size();) {
    auto [start, end] = ranges[i];
    for (++i; i < ranges.size() && ranges[i].first < end; ++i) end = std::max(end, ranges[i].second);
    out.append(text, cursor, start - cursor);
    out += kMask;
    cursor = end;
  }
  out.append(text, cursor);
  return out;
}

std::shared_ptr<const SecretMatcher> Matcher(const std::vector<std::string>& secrets) {
  return std::make_shared<const SecretMatcher>(secrets);
}

// The whole stream, written in the pieces that `cuts` (sorted offsets) make.
std::string MaskInPieces(const std::string& text, const std::vector<std::string>& secrets,
                         const std::vector<size_t>& cuts) {
  LogMasker masker(Matcher(secrets));
  std::string out;
  size_t from = 0;
  for (size_t cut : cuts) {
    out += masker.Write(std::string_view(text).substr(from, cut - from));
    from = cut;
  }
  out += masker.Write(std::string_view(text).substr(from));
  out += masker.Flush();
  return out;
}

std::string MaskByteByByte(const std::string& text, const std::vector<std::string>& secrets) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < text.size(); ++i) cuts.push_back(i);
  return MaskInPieces(text, secrets, cuts);
}

TEST(LogMaskerTest, ReferenceSaysWhatTheHeaderSays) {
  EXPECT_EQ(Reference("abcde", {"abc", "cde"}), "****");
  EXPECT_EQ(Reference("toktok", {"tok"}), "********");
  EXPECT_EQ(Reference("x", {""}), "x");
}

TEST(LogMaskerTest, ValueSplitAtEveryPairOfPositions) {
  const std::string text = "login ok; token=s3cr3t-T0KEN-value; done\n";
  const std::vector<std::string> secrets = {"s3cr3t-T0KEN-value"};
  const std::string expected = "login ok; token=****; done\n";
  ASSERT_EQ(Reference(text, secrets), expected);
  for (size_t i = 0; i <= text.size(); ++i) {
    for (size_t j = i; j <= text.size(); ++j) {
      ASSERT_EQ(MaskInPieces(text, secrets, {i, j}), expected) << "cut at " << i << " and " << j;
    }
  }
  EXPECT_EQ(MaskByteByByte(text, secrets), expected);
}

TEST(LogMaskerTest, ValueLongerThanManyChunks) {
  const std::string secret(1000, 'k');
  const std::string text = "a" + secret + "b" + secret.substr(1) + "c";
  for (size_t piece : {1, 3, 7, 64, 999, 1000, 1001}) {
    std::vector<size_t> cuts;
    for (size_t at = piece; at < text.size(); at += piece) cuts.push_back(at);
    EXPECT_EQ(MaskInPieces(text, {secret}, cuts), "a****b" + secret.substr(1) + "c") << piece;
  }
}

TEST(LogMaskerTest, MultipleSecrets) {
  const std::vector<std::string> secrets = {"alice", "hunter2", "abc123"};
  const std::string text = "user=alice pass=hunter2 token=abc123 again:hunter2alice";
  const std::string expected = "user=**** pass=**** token=**** again:********";
  EXPECT_EQ(MaskInPieces(text, secrets, {}), expected);
  EXPECT_EQ(MaskByteByByte(text, secrets), expected);
}

TEST(LogMaskerTest, OverlappingValuesLeaveNoByte) {
  // Longest-first replacement would print "****de" or "ab****" here.
  EXPECT_EQ(MaskInPieces("xabcdex", {"abc", "cde"}, {}), "x****x");
  EXPECT_EQ(MaskByteByByte("xabcdex", {"cde", "abc"}), "x****x");
  // A value overlapping itself.
  EXPECT_EQ(MaskByteByByte("ababab!", {"abab"}), "****!");
  EXPECT_EQ(MaskByteByByte("aaaaaaa", {"aa"}), "****");
  // A chain of overlaps, each beginning before the one before ends.
  EXPECT_EQ(MaskByteByByte("-12345678-", {"123", "345", "5678"}), "-****-");
  // A later, longer match reaching back over two earlier ranges.
  EXPECT_EQ(MaskByteByByte("xbcydez", {"bc", "de", "xbcydez"}), "****");
}

TEST(LogMaskerTest, ValueInsideAnother) {
  const std::vector<std::string> secrets = {"pass", "mypassword"};
  EXPECT_EQ(MaskByteByByte("mypassword pass mypass password", secrets), "**** **** my**** ****word");
  EXPECT_EQ(MaskInPieces("mypassword", secrets, {4}), "****");
}

TEST(LogMaskerTest, TouchingValuesAreTwoMasks) {
  EXPECT_EQ(MaskByteByByte("toktok", {"tok"}), "********");
}

TEST(LogMaskerTest, EmptyValuesAreIgnored) {
  EXPECT_EQ(MaskByteByByte("some output", {"", ""}), "some output");
  EXPECT_EQ(MaskByteByByte("some output", {"", "out"}), "some ****put");
  // Nothing to mask: nothing is held back.
  LogMasker masker(Matcher({""}));
  EXPECT_EQ(masker.Write("abc"), "abc");
  EXPECT_EQ(masker.Flush(), "");
}

TEST(LogMaskerTest, ShortValuesAreMaskedToo) {
  // GitLab would refuse to mask these (fewer than 8 characters); we mask.
  EXPECT_EQ(MaskByteByByte("a1b2", {"1"}), "a****b2");
  EXPECT_EQ(MaskByteByByte("pin=4711.", {"4711"}), "pin=****.");
}

TEST(LogMaskerTest, BinaryValuesAndOutput) {
  const std::string secret("\0\xff\n\x80secret\0", 11);
  const std::string text = std::string("\x01\x02\0", 3) + secret + std::string("\xfe\0", 2) + secret;
  const std::string expected = std::string("\x01\x02\0", 3) + "****" + std::string("\xfe\0", 2) + "****";
  EXPECT_EQ(MaskByteByByte(text, {secret}), expected);
  EXPECT_EQ(MaskInPieces(text, {secret}, {5}), expected);
}

TEST(LogMaskerTest, HeldBackPrefixIsFlushedAtTheEnd) {
  LogMasker masker(Matcher({"SECRET"}));
  EXPECT_EQ(masker.Write("output SEC"), "output ");
  EXPECT_EQ(masker.Write("R"), "");
  EXPECT_EQ(masker.Flush(), "SECR");
  // The next stream starts afresh: "ET" does not complete the old prefix.
  EXPECT_EQ(masker.Write("ET\n"), "ET\n");
  EXPECT_EQ(masker.Write("SECRET"), "****");
  EXPECT_EQ(masker.Flush(), "");
}

TEST(LogMaskerTest, HoldsBackNoMoreThanCouldBeASecret) {
  LogMasker masker(Matcher({"abcdef", "xyz"}));
  // Nothing here starts a secret: all of it is passed on at once.
  EXPECT_EQ(masker.Write("hello world\n"), "hello world\n");
  // "abc" could still become "abcdef": held.
  EXPECT_EQ(masker.Write("zzabc"), "zz");
  EXPECT_EQ(masker.Write("q"), "abcq");
  // Inside a long run of overlapping matches, the mask is out at once and
  // nothing is held.
  LogMasker run(Matcher({"aa"}));
  EXPECT_EQ(run.Write("xaa"), "x****");
  EXPECT_EQ(run.Write(std::string(100000, 'a')), "");
  EXPECT_EQ(run.Write("b"), "b");
  EXPECT_EQ(run.Flush(), "");
}

TEST(LogMaskerTest, StreamsAreSeparate) {
  auto matcher = Matcher({"hunter2"});
  LogMasker out(matcher), err(matcher);
  std::string stdout_text = out.Write("hun");
  std::string stderr_text = err.Write("ter2 hunter");
  stdout_text += out.Write("ter2");
  stderr_text += err.Write("2");
  stdout_text += out.Flush();
  stderr_text += err.Flush();
  EXPECT_EQ(stdout_text, "****");
  EXPECT_EQ(stderr_text, "ter2 ****");
}

TEST(LogMaskerTest, MaskSecretsOneShot) {
  SecretMatcher matcher({"tok3n", "hunter2"});
  EXPECT_EQ(MaskSecrets("fetch https://x:tok3n@host failed: hunter2", matcher),
            "fetch https://x:****@host failed: ****");
  EXPECT_EQ(MaskSecrets("", matcher), "");
}

// Small alphabets make overlaps, prefixes that fail late and values inside
// values common; every case is checked against the reference, cut at
// random and byte by byte.
TEST(LogMaskerTest, RandomAgainstReference) {
  std::mt19937 rng(12);
  auto random_string = [&](size_t max_len, int letters) {
    std::string s(std::uniform_int_distribution<size_t>(0, max_len)(rng), ' ');
    for (char& c : s) c = static_cast<char>('a' + std::uniform_int_distribution<int>(0, letters - 1)(rng));
    return s;
  };
  for (int round = 0; round < 5000; ++round) {
    int letters = std::uniform_int_distribution<int>(2, 4)(rng);
    std::vector<std::string> secrets(std::uniform_int_distribution<int>(1, 4)(rng));
    for (auto& secret : secrets) secret = random_string(6, letters);
    std::string text = random_string(80, letters);
    std::vector<size_t> cuts;
    for (int n = std::uniform_int_distribution<int>(0, 6)(rng); n > 0; --n) {
      cuts.push_back(std::uniform_int_distribution<size_t>(0, text.size())(rng));
    }
    std::sort(cuts.begin(), cuts.end());
    const std::string expected = Reference(text, secrets);
    ASSERT_EQ(MaskInPieces(text, secrets, cuts), expected) << "text " << text << " round " << round;
    ASSERT_EQ(MaskByteByByte(text, secrets), expected) << "text " << text << " round " << round;
  }
}

// 8 MiB through the masker in pipe-sized chunks, with a thousand secrets
// and with a secret that nearly matches everywhere. No time is asserted
// (the algorithm is linear; speed belongs in bench/), but a quadratic
// implementation would not finish within the test's timeout.
TEST(LogMaskerTest, LargeStreams) {
  constexpr size_t kSize = 8 << 20;
  std::mt19937 rng(7);
  std::vector<std::string> secrets;
  for (int i = 0; i < 1000; ++i) {
    std::string s(16, ' ');
    for (char& c : s) c = static_cast<char>('A' + rng() % 26);
    secrets.push_back(s);
  }
  std::string text;
  text.reserve(kSize);
  size_t planted = 0;
  while (text.size() < kSize) {
    text.append(std::string(1000, 'a' + rng() % 26));
    text.append(secrets[rng() % secrets.size()]);
    ++planted;
  }
  LogMasker masker(Matcher(secrets));
  std::string out;
  for (size_t at = 0; at < text.size(); at += 65536)
    out += masker.Write(std::string_view(text).substr(at, 65536));
  out += masker.Flush();
  EXPECT_EQ(out.size(), text.size() - planted * (16 - kMask.size()));
  size_t masks = 0;
  for (size_t at = out.find(kMask); at != std::string::npos; at = out.find(kMask, at + kMask.size())) ++masks;
  EXPECT_EQ(masks, planted);

  // "aaa...ab" against 8 MiB of 'a': every byte extends a prefix that then
  // fails, the worst case for a naive search.
  const std::string near_miss = std::string(4096, 'a') + "b";
  LogMasker worst(Matcher({near_miss, "aaaa"}));
  std::string all_a(kSize, 'a');
  std::string masked;
  for (size_t at = 0; at < all_a.size(); at += 4096)
    masked += worst.Write(std::string_view(all_a).substr(at, 4096));
  masked += worst.Flush();
  EXPECT_EQ(masked, "****");
  LogMasker miss(Matcher({near_miss}));
  masked = miss.Write(all_a);
  masked += miss.Flush();
  EXPECT_EQ(masked, all_a);
}

}  // namespace
}  // namespace slipway
