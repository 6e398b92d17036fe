// Hostile deliveries, as an attacker (or a broken forge) would send them:
// every payload of tests/webhooks/payloads truncated, with bytes flipped,
// with each field replaced by a value of another type, huge strings, deep
// nesting, invalid UTF-8 and NUL bytes. ParseDelivery must answer each with
// an error or an event that keeps every promise of forge_event.h, and never
// crash, throw or recurse without bound. Deterministic and bounded: a fixed
// seed, a few seconds in all.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "engine/base/ascii.h"
#include "tests/webhooks/payloads.h"
#include "webhooks/forge_event.h"

namespace slipway::webhooks {
namespace {

using nlohmann::json;
using testing::AllPayloads;
using testing::Payload;

struct Delivery {
  std::string file;  // "<forge>/<name>.json"
  Forge forge;
  Headers headers;
  std::string body;
};

// The headers the forge sends with that payload, from its file name.
Headers HeadersFor(Forge forge, const std::string& name) {
  auto starts = [&](const char* p) { return name.rfind(p, 0) == 0; };
  switch (forge) {
    case Forge::kGitHub: {
      std::string ev = starts("pull_request") ? "pull_request"
                       : starts("ping")       ? "ping"
                       : starts("issues")     ? "issues"
                                              : "push";
      return {{"x-github-event", ev}, {"x-github-delivery", "d-1"}};
    }
    case Forge::kGitea: {
      std::string ev = starts("pull_request") ? "pull_request"
                       : starts("create")     ? "create"
                       : starts("delete")     ? "delete"
                                              : "push";
      return {{"x-gitea-event", ev}, {"x-gitea-delivery", "d-1"}};
    }
    case Forge::kGitLab: {
      std::string ev = starts("merge_request") ? "Merge Request Hook"
                       : starts("tag_push")    ? "Tag Push Hook"
                       : starts("system")      ? "System Hook"
                                               : "Push Hook";
      return {{"x-gitlab-event", ev}, {"x-gitlab-event-uuid", "d-1"}};
    }
  }
  return {};
}

std::vector<Delivery> AllDeliveries() {
  std::vector<Delivery> out;
  for (const std::string& file : AllPayloads()) {
    size_t slash = file.find('/');
    Forge forge = *ParseForge(file.substr(0, slash));
    std::string name = file.substr(slash + 1);
    out.push_back({file, forge, HeadersFor(forge, name), Payload(file.substr(0, slash), name)});
  }
  return out;
}

bool ValidUtf8(std::string_view s) {
  // Round-trips through nlohmann's strict serializer iff valid.
  try {
    (void)json(std::string(s)).dump();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

// What forge_event.h promises of any event ParseDelivery returns.
void ExpectSane(const ForgeEvent& e, const std::string& what) {
  SCOPED_TRACE(what);
  for (const std::string* s : {&e.delivery_id, &e.full_name, &e.project_id, &e.branch, &e.tag, &e.commit,
                               &e.author, &e.message, &e.head_ref, &e.ignored_reason}) {
    EXPECT_FALSE(HasControlChar(*s));
    EXPECT_LE(s->size(), 2048u);
    EXPECT_TRUE(ValidUtf8(*s));
  }
  for (const auto& url : e.clone_urls) {
    EXPECT_FALSE(HasControlChar(url));
    EXPECT_LE(url.size(), 2048u);
  }
  EXPECT_LE(e.clone_urls.size(), 4u);
  EXPECT_LE(e.message.size(), 200u);
  switch (e.kind) {
    case EventKind::kPush:
    case EventKind::kTag:
    case EventKind::kPullRequest:
      EXPECT_EQ(e.commit.size(), 40u);
      EXPECT_TRUE(IsLowerHex(e.commit));
      EXPECT_NE(e.commit, std::string(40, '0'));
      EXPECT_FALSE(e.full_name.empty());
      EXPECT_EQ(e.kind == EventKind::kTag, !e.tag.empty());
      EXPECT_EQ(e.kind == EventKind::kTag, e.branch.empty());
      break;
    case EventKind::kIgnored: EXPECT_FALSE(e.ignored_reason.empty()); break;
    default: break;
  }
  if (e.kind == EventKind::kPullRequest) {
    EXPECT_GT(e.pull_request, 0);
    EXPECT_FALSE(e.head_ref.empty());
  }
}

// An error names what is wrong in a bounded message, without the body.
void ExpectBoundedError(const Status& st, const std::string& what) {
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << what;
  EXPECT_LE(st.message().size(), 200u) << what;
  EXPECT_FALSE(HasControlChar(st.message())) << what;
}

// Parses and checks; returns whether it gave an event.
bool Check(const Delivery& d, std::string_view body, const std::string& what) {
  Result<ForgeEvent> r = ParseDelivery(d.forge, d.headers, body);
  if (r.ok()) {
    ExpectSane(*r, what);
    return true;
  }
  ExpectBoundedError(r.status(), what);
  return false;
}

TEST(HostilePayloadTest, EveryPayloadParsesAsIs) {
  auto all = AllDeliveries();
  ASSERT_GE(all.size(), 25u);
  for (const auto& d : all) EXPECT_TRUE(Check(d, d.body, d.file)) << d.file;
}

TEST(HostilePayloadTest, TruncatedPayloads) {
  // Every prefix up to 600 bytes, then every 23rd: a truncated body is
  // never valid JSON, so each must be an error.
  for (const auto& d : AllDeliveries()) {
    std::string body = d.body;
    while (!body.empty() && (body.back() == '\n' || body.back() == ' ')) body.pop_back();
    for (size_t n = 0; n < body.size(); n += n < 600 ? 1 : 23) {
      EXPECT_FALSE(Check(d, std::string_view(body).substr(0, n), d.file + " cut at " + std::to_string(n)));
    }
  }
}

TEST(HostilePayloadTest, FlippedBytes) {
  std::mt19937 rng(20261207);
  const char kBytes[] = {'"', '{', '}', '[',  ']',    ',',    ':',    '\\',
                         '0', 'a', 'F', '\0', '\x7f', '\xff', '\xc0', ' '};
  for (const auto& d : AllDeliveries()) {
    for (int i = 0; i < 300; ++i) {
      std::string body = d.body;
      int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) {
        size_t at = rng() % body.size();
        body[at] = rng() % 2 ? kBytes[rng() % sizeof(kBytes)] : static_cast<char>(rng());
      }
      Check(d, body, d.file + " mutation " + std::to_string(i));
    }
  }
}

// Every value in the tree, each replaced by values of other types.
TEST(HostilePayloadTest, TypeConfusedFields) {
  const std::vector<json> replacements = {nullptr,
                                          true,
                                          0,
                                          -1,
                                          1.5,
                                          18446744073709551615ull,
                                          "",
                                          "x",
                                          json::array(),
                                          json::object(),
                                          json::array({"refs/heads/main"}),
                                          json::object({{"id", "6113728f27ae82c7b1a177c8d03f9e96e0adf246"}}),
                                          "0000000000000000000000000000000000000000",
                                          "refs/heads/../../etc",
                                          std::string(3000, 'a')};
  for (const auto& d : AllDeliveries()) {
    json doc = json::parse(d.body);
    json flat = doc.flatten();
    // Paths of every leaf and of every enclosing object or array.
    std::set<std::string> paths;
    for (const auto& [leaf, _] : flat.items()) {
      std::string p = leaf;
      while (!p.empty()) {
        paths.insert(p);
        p = p.substr(0, p.rfind('/'));
      }
    }
    for (const std::string& p : paths) {
      for (const json& r : replacements) {
        json mutated = doc;
        mutated[json::json_pointer(p)] = r;
        Check(d, mutated.dump(), d.file + " " + p + " = " + r.dump().substr(0, 40));
      }
      json removed = doc;
      json::json_pointer ptr(p);
      json& parent = removed[ptr.parent_pointer()];
      if (parent.is_array()) {
        parent.erase(std::stoul(ptr.back()));
      } else {
        parent.erase(ptr.back());
      }
      Check(d, removed.dump(), d.file + " without " + p);
    }
  }
}

TEST(HostilePayloadTest, HugeStringsAreRefusedNamingTheField) {
  const std::string huge((1 << 20) + 1, 'a');  // one byte over the largest bound (a message)
  struct Case {
    const char* file;
    const char* pointer;
    const char* field;
  };
  for (const Case& c :
       {Case{"github/push.json", "/head_commit/message", "head_commit.message"},
        Case{"github/push.json", "/ref", "ref"},
        Case{"github/push.json", "/repository/full_name", "repository.full_name"},
        Case{"github/push.json", "/repository/clone_url", "repository.clone_url"},
        Case{"gitea/push.json", "/head_commit/author/name", "head_commit.author.name"},
        Case{"gitlab/push.json", "/project/path_with_namespace", "project.path_with_namespace"},
        Case{"gitlab/merge_request_open.json", "/object_attributes/action", "object_attributes.action"}}) {
    std::string file = c.file;
    std::string forge = file.substr(0, file.find('/'));
    std::string name = file.substr(file.find('/') + 1);
    json doc = json::parse(Payload(forge, name));
    doc[json::json_pointer(c.pointer)] = huge;
    Forge f = *ParseForge(forge);
    auto r = ParseDelivery(f, HeadersFor(f, name), doc.dump());
    ASSERT_FALSE(r.ok()) << c.pointer;
    EXPECT_EQ(r.status().message().rfind(std::string("field ") + c.field + " is too long", 0), 0u)
        << r.status().message();
    EXPECT_LE(r.status().message().size(), 200u);
  }
}

TEST(HostilePayloadTest, DeepNestingIsRefusedBeforeParsing) {
  Delivery d = AllDeliveries().front();
  // A million levels: a recursive parser or destructor would overflow the stack.
  for (std::string open : {"[", "{\"a\":"}) {
    std::string body = "{\"x\":";
    for (int i = 0; i < 1000000; ++i) body += open;
    Result<ForgeEvent> r = ParseDelivery(d.forge, d.headers, body);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "body nests deeper than 32 levels");
  }
  // Closing brackets first must not make room for more opening ones.
  std::string sneaky = std::string(100000, ']') + std::string(100000, '[');
  EXPECT_FALSE(Check(d, sneaky, "closers first"));
  // Brackets inside strings are text, not nesting.
  json doc = json::parse(Payload("github", "push.json"));
  doc["head_commit"]["message"] = std::string(5000, '[') + "\\\"" + std::string(5000, '{');
  Delivery gh{"github/push.json", Forge::kGitHub, HeadersFor(Forge::kGitHub, "push.json"), ""};
  EXPECT_TRUE(Check(gh, doc.dump(), "brackets in a string"));
  // Deep nesting in a field nobody reads is still refused: the bound is on the body.
  doc = json::parse(Payload("github", "push.json"));
  json deep = json::array();
  for (int i = 0; i < 40; ++i) deep = json::array({deep});
  doc["sender"] = deep;
  EXPECT_FALSE(Check(gh, doc.dump(), "deep sender"));
}

TEST(HostilePayloadTest, InvalidUtf8AndNulBytes) {
  std::string body = Payload("github", "push.json");
  Delivery gh{"github/push.json", Forge::kGitHub, HeadersFor(Forge::kGitHub, "push.json"), body};
  size_t at = body.find("Update README.md");
  ASSERT_NE(at, std::string::npos);
  for (std::string bad : {std::string("\xff"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
                          std::string("\xe2\x82"), std::string(1, '\0'), std::string("\x01")}) {
    std::string b = body;
    b.insert(at + 3, bad);
    EXPECT_FALSE(Check(gh, b, "raw bytes in a string"));
  }
  // A NUL as a JSON escape is valid JSON: refused in names and refs, turned
  // into a space in a message.
  json doc = json::parse(body);
  doc["ref"] = std::string("refs/heads/main\0evil", 20);
  EXPECT_FALSE(Check(gh, doc.dump(), "NUL in ref"));
  doc = json::parse(body);
  doc["repository"]["full_name"] = std::string("octo-org/hello\0world", 20);
  EXPECT_FALSE(Check(gh, doc.dump(), "NUL in full_name"));
  doc = json::parse(body);
  doc["head_commit"]["message"] = std::string("Up\0date\x1b[31m", 12);
  auto r = ParseDelivery(Forge::kGitHub, gh.headers, doc.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->message, "Up date [31m");
  // Unpaired surrogate escapes.
  std::string b = body;
  b.insert(at + 3, "\\ud800");
  Check(gh, b, "unpaired surrogate");
  // A body with NUL bytes after a valid document.
  EXPECT_FALSE(Check(gh, body + std::string(3, '\0'), "trailing NULs"));
}

TEST(HostilePayloadTest, BodiesThatAreNotObjects) {
  Delivery gh = AllDeliveries().front();
  for (std::string body : {"", " ", "null", "[]", "\"push\"", "42", "true", "{", "}", "{}{}", "{} []",
                           "\xef\xbb\xbf{}", "/* */{}"}) {
    Result<ForgeEvent> r = ParseDelivery(gh.forge, gh.headers, body);
    if (r.ok()) {
      ExpectSane(*r, body);
    } else {
      ExpectBoundedError(r.status(), body);
    }
  }
}

TEST(HostilePayloadTest, HostileHeaders) {
  std::string body = Payload("gitlab", "push.json");
  for (std::string event : {std::string("Push Hook\0", 10), std::string("push hook"),
                            std::string(100000, 'P'), std::string("Push Hook\r\nX: y")}) {
    Headers h = {{"x-gitlab-event", event}};
    Result<ForgeEvent> r = ParseDelivery(Forge::kGitLab, h, body);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->kind, EventKind::kIgnored);
    ExpectSane(*r, "event header");
  }
  for (std::string id :
       {std::string(129, 'a'), std::string("a b"), std::string("\xc3\xa9"), std::string("id\0x", 4)}) {
    Headers h = {{"x-gitlab-event", "Push Hook"}, {"x-gitlab-event-uuid", id}};
    Result<ForgeEvent> r = ParseDelivery(Forge::kGitLab, h, body);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message().find(id), std::string::npos);
  }
}

TEST(HostilePayloadTest, RefsGitWouldRefuse) {
  json doc = json::parse(Payload("github", "push.json"));
  Delivery gh{"github/push.json", Forge::kGitHub, HeadersFor(Forge::kGitHub, "push.json"), ""};
  for (const char* ref : {"refs/heads/",     "refs/heads/a..b",   "refs/heads/.hidden",
                          "refs/heads/a/.b", "refs/heads/x.lock", "refs/heads/a//b",
                          "refs/heads/a/",   "refs/heads/a.",     "refs/heads/a b",
                          "refs/heads/a~1",  "refs/heads/a^",     "refs/heads/a:b",
                          "refs/heads/a?",   "refs/heads/a*",     "refs/heads/a[",
                          "refs/heads/a\\b", "refs/heads/a@{1}",  "@",
                          "/refs/heads/a",   "refs/heads/\x7f",   "refs/heads/a\xc2\x85"}) {
    doc["ref"] = ref;
    EXPECT_FALSE(Check(gh, doc.dump(), ref)) << ref;
  }
  for (const char* ref :
       {"refs/heads/feature/x-1", "refs/heads/a.b", "refs/heads/@", "refs/heads/\xc3\xa9t\xc3\xa9"}) {
    doc["ref"] = ref;
    EXPECT_TRUE(Check(gh, doc.dump(), ref)) << ref;
  }
  doc["ref"] = "refs/notes/commits";
  auto r = ParseDelivery(Forge::kGitHub, gh.headers, doc.dump());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, EventKind::kIgnored);
}

}  // namespace
}  // namespace slipway::webhooks
