// ContainerStore: the containers table in slipwayd's SQLite file. Rows round
// trip, names are unique, lookups by id, name and prefix, listing order,
// reopening, and sharing the file with the image store.
#include "engine/containers/container_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "engine/base/fs.h"
#include "engine/image/image_store.h"
#include "engine/oci/digest.h"
#include "engine/runtime/spec_json.h"
#include "tests/engine/image/image_store_parts.h"
#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

// 32 hex digits: `prefix` then `fill` up to the length.
std::string Id(const std::string& prefix, char fill = '0') {
  return prefix + std::string(32 - prefix.size(), fill);
}

Container MakeContainer(const std::string& id, const std::string& name, int64_t created_unix_ms) {
  Container c;
  c.id = id;
  c.name = name;
  c.request.image = "docker.io/library/busybox:latest";
  c.request.command = {"sh", "-c", "echo hi"};
  c.request.limits.memory_bytes = 64 << 20;
  c.request.limits.pids_max = 32;
  c.image_id = "sha256:" + std::string(64, 'b');
  c.spec.name = id;
  c.spec.lower_dirs = {"/var/lib/slipway/snapshots/x"};
  c.spec.argv = c.request.command;
  c.spec.env = {"PATH=/bin"};
  c.spec.limits = {};
  c.spec.limits.memory_bytes = 64 << 20;
  c.spec.limits.pids_max = 32;
  c.spec.timeout = std::chrono::milliseconds(5000);
  c.created_unix_ms = created_unix_ms;
  return c;
}

void ExpectSameContainer(const Container& want, const Container& got) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.name, want.name);
  EXPECT_EQ(got.state, want.state);
  EXPECT_EQ(got.request.ToJson(), want.request.ToJson());
  EXPECT_EQ(got.image_id, want.image_id);
  EXPECT_EQ(SpecToJson(got.spec), SpecToJson(want.spec));
  EXPECT_EQ(got.sandbox_id, want.sandbox_id);
  EXPECT_EQ(got.pid, want.pid);
  EXPECT_EQ(got.created_unix_ms, want.created_unix_ms);
  EXPECT_EQ(got.labels, want.labels);
  EXPECT_EQ(got.ends_with_caller, want.ends_with_caller);
  EXPECT_EQ(got.started_unix_ms, want.started_unix_ms);
  EXPECT_EQ(got.finished_unix_ms, want.finished_unix_ms);
  ASSERT_EQ(got.result.has_value(), want.result.has_value());
  if (want.result) {
    EXPECT_EQ(got.result->ToJson(), want.result->ToJson());
  }
  EXPECT_EQ(got.error, want.error);
}

std::vector<std::string> Ids(const std::vector<Container>& list) {
  std::vector<std::string> out;
  for (const auto& c : list) out.push_back(c.id);
  return out;
}

class ContainerStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("slipway-containers");
    path_ = dir_ + "/slipway.db";
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    ASSERT_TRUE(RemoveTree(dir_).ok());
  }

  std::unique_ptr<ContainerStore> Open() {
    auto s = ContainerStore::Open(path_);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  void Insert(const Container& c) {
    Status st = store_->Insert(c);
    ASSERT_TRUE(st.ok()) << st.message();
  }

  std::vector<std::string> ListIds(bool all) {
    auto list = store_->List(all);
    EXPECT_TRUE(list.ok()) << list.status().message();
    return list.ok() ? Ids(*list) : std::vector<std::string>{};
  }

  std::string dir_, path_;
  std::unique_ptr<ContainerStore> store_;
};

// --- Rows -------------------------------------------------------------------

TEST_F(ContainerStoreTest, InsertAndGetRoundTrip) {
  Container c = MakeContainer(Id("abc1"), "build-1", 1000);
  c.request.entrypoint = std::vector<std::string>{"/bin/sh"};
  c.request.binds = {"/src:/src:ro"};
  c.spec.binds = {{"/src", "/src", true}};
  c.state = ContainerState::kRunning;
  c.sandbox_id = c.id;
  c.pid = 4242;
  c.started_unix_ms = 1100;
  Insert(c);
  auto got = store_->Get(c.id);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ExpectSameContainer(c, *got);
}

TEST_F(ContainerStoreTest, ResultAndErrorRoundTrip) {
  Container c = MakeContainer(Id("abc2"), "", 1000);
  c.state = ContainerState::kExited;
  SandboxResult r;
  r.exit_code = 137;
  r.signal = 9;
  r.oom_killed = true;
  r.wall_ms = 12;
  r.cpu_ns = 34;
  r.peak_memory_bytes = 56;
  c.result = r;
  c.error = "killed: out of memory";
  c.finished_unix_ms = 2000;
  Insert(c);
  auto got = store_->Get(c.id);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ExpectSameContainer(c, *got);
  EXPECT_EQ(got->name, "");
}

TEST_F(ContainerStoreTest, GetUnknownIsNotFound) {
  auto got = store_->Get(Id("dead"));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kNotFound);
}

TEST_F(ContainerStoreTest, DuplicateIdIsAlreadyExists) {
  Insert(MakeContainer(Id("abc1"), "one", 1));
  Status st = store_->Insert(MakeContainer(Id("abc1"), "two", 2));
  EXPECT_EQ(st.code(), Code::kAlreadyExists) << st.message();
  EXPECT_NE(st.message().find(Id("abc1")), std::string::npos) << st.message();
}

TEST_F(ContainerStoreTest, DuplicateNameIsAlreadyExists) {
  Insert(MakeContainer(Id("abc1"), "web", 1));
  Status st = store_->Insert(MakeContainer(Id("abc2"), "web", 2));
  EXPECT_EQ(st.code(), Code::kAlreadyExists) << st.message();
  EXPECT_NE(st.message().find("\"web\""), std::string::npos) << st.message();
  EXPECT_EQ(store_->Get(Id("abc2")).status().code(), Code::kNotFound);
}

TEST_F(ContainerStoreTest, UnnamedContainersDoNotCollide) {
  Insert(MakeContainer(Id("abc1"), "", 1));
  Insert(MakeContainer(Id("abc2"), "", 2));
  EXPECT_EQ(ListIds(true).size(), 2u);
}

TEST_F(ContainerStoreTest, UpdateReplacesTheRow) {
  Container c = MakeContainer(Id("abc1"), "job", 1000);
  Insert(c);
  c.state = ContainerState::kExited;
  c.name = "renamed";
  c.pid = 0;
  c.finished_unix_ms = 3000;
  c.result = SandboxResult{};
  c.result->exit_code = 3;
  ASSERT_TRUE(store_->Update(c).ok());
  auto got = store_->Get(c.id);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ExpectSameContainer(c, *got);
  // The old name is free again, the new one taken.
  Insert(MakeContainer(Id("abc2"), "job", 2000));
  EXPECT_EQ(store_->Insert(MakeContainer(Id("abc3"), "renamed", 2000)).code(), Code::kAlreadyExists);
}

TEST_F(ContainerStoreTest, UpdateUnknownIsNotFound) {
  Status st = store_->Update(MakeContainer(Id("abc1"), "x", 1));
  EXPECT_EQ(st.code(), Code::kNotFound) << st.message();
}

TEST_F(ContainerStoreTest, UpdateToATakenNameIsAlreadyExists) {
  Insert(MakeContainer(Id("abc1"), "a", 1));
  Container b = MakeContainer(Id("abc2"), "b", 2);
  Insert(b);
  b.name = "a";
  Status st = store_->Update(b);
  EXPECT_EQ(st.code(), Code::kAlreadyExists) << st.message();
  EXPECT_EQ(store_->Get(b.id)->name, "b");
}

TEST_F(ContainerStoreTest, DeleteRemovesAndMissingIsOk) {
  Insert(MakeContainer(Id("abc1"), "gone", 1));
  ASSERT_TRUE(store_->Delete(Id("abc1")).ok());
  EXPECT_EQ(store_->Get(Id("abc1")).status().code(), Code::kNotFound);
  EXPECT_TRUE(store_->Delete(Id("abc1")).ok());
  Insert(MakeContainer(Id("abc2"), "gone", 2));  // the name is free
}

// A row that could not be read back is refused before it is written.
TEST_F(ContainerStoreTest, UndecodableRequestIsRefused) {
  Container c = MakeContainer(Id("abc1"), "x", 1);
  c.request.image.clear();  // neither image nor rootfs
  Status st = store_->Insert(c);
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.message();
  EXPECT_TRUE(ListIds(true).empty());
}

// Values to mask are secrets: a row never holds them, on insert or update,
// and the refusal does not quote them.
TEST_F(ContainerStoreTest, MaskedValuesAreNeverStored) {
  Container c = MakeContainer(Id("abc1"), "x", 1);
  c.spec.masked_values = {"hunter2-secret"};
  Status st = store_->Insert(c);
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.message();
  EXPECT_EQ(st.message().find("hunter2-secret"), std::string::npos) << st.message();
  EXPECT_TRUE(ListIds(true).empty());
  c.spec.masked_values.clear();
  Insert(c);
  c.spec.masked_values = {"hunter2-secret"};
  st = store_->Update(c);
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.message();
  auto got = store_->Get(c.id);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_TRUE(got->spec.masked_values.empty());
}

TEST_F(ContainerStoreTest, CorruptRowIsInternal) {
  Insert(MakeContainer(Id("abc1"), "x", 1));
  {
    SQLite::Database raw(path_, SQLite::OPEN_READWRITE);
    raw.exec("UPDATE containers SET state = 'sleeping'");
  }
  auto got = store_->Get(Id("abc1"));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kInternal);
  EXPECT_NE(got.status().message().find("sleeping"), std::string::npos) << got.status().message();
}

// --- Find -------------------------------------------------------------------

TEST_F(ContainerStoreTest, FindByIdNameAndPrefix) {
  Insert(MakeContainer(Id("abcd1"), "web", 1));
  Insert(MakeContainer(Id("abcd2"), "", 2));
  Insert(MakeContainer(Id("ffff"), "db", 3));
  EXPECT_EQ(store_->Find(Id("abcd1"))->id, Id("abcd1"));
  EXPECT_EQ(store_->Find("web")->id, Id("abcd1"));
  EXPECT_EQ(store_->Find("db")->id, Id("ffff"));
  EXPECT_EQ(store_->Find("abcd2")->id, Id("abcd2"));
  EXPECT_EQ(store_->Find("ffff")->id, Id("ffff"));
  EXPECT_EQ(store_->Find(Id("ffff").substr(0, 31))->id, Id("ffff"));
}

TEST_F(ContainerStoreTest, FindAmbiguousPrefixIsInvalidArgument) {
  Insert(MakeContainer(Id("abcd1"), "", 1));
  Insert(MakeContainer(Id("abcd2"), "", 2));
  auto found = store_->Find("abcd");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), Code::kInvalidArgument) << found.status().message();
  EXPECT_NE(found.status().message().find("ambiguous"), std::string::npos);
}

TEST_F(ContainerStoreTest, FindMisses) {
  Insert(MakeContainer(Id("abcd1"), "web", 1));
  for (const char* miss : {"", "abc", "a", "ABCD", "abcd%", "abc_", "0000", "we", "web2", "Web"}) {
    auto found = store_->Find(miss);
    ASSERT_FALSE(found.ok()) << miss;
    EXPECT_EQ(found.status().code(), Code::kNotFound) << miss << ": " << found.status().message();
  }
}

// Exact id, then exact name, then prefix: a name that looks like a prefix of
// another container's id still means the named container.
TEST_F(ContainerStoreTest, FindPrefersIdThenNameThenPrefix) {
  Insert(MakeContainer(Id("beef"), "", 1));
  Insert(MakeContainer(Id("cafe"), "beef", 2));
  EXPECT_EQ(store_->Find("beef")->id, Id("cafe"));
  Insert(MakeContainer(Id("dead"), Id("beef"), 3));
  EXPECT_EQ(store_->Find(Id("beef"))->id, Id("beef"));
}

// --- List -------------------------------------------------------------------

TEST_F(ContainerStoreTest, ListNewestFirstAndActiveOnly) {
  const ContainerState states[] = {
      ContainerState::kCreated, ContainerState::kQueued, ContainerState::kStarting, ContainerState::kRunning,
      ContainerState::kExited,  ContainerState::kFailed, ContainerState::kLost};
  // Created out of order, so insertion order and time order differ.
  const int64_t created[] = {300, 100, 700, 200, 600, 500, 400};
  for (size_t i = 0; i < std::size(states); ++i) {
    Container c = MakeContainer(Id("a" + std::to_string(i)), "c" + std::to_string(i), created[i]);
    c.state = states[i];
    Insert(c);
  }
  EXPECT_EQ(ListIds(true),
            (std::vector<std::string>{Id("a2"), Id("a4"), Id("a5"), Id("a6"), Id("a0"), Id("a3"), Id("a1")}));
  EXPECT_EQ(ListIds(false), (std::vector<std::string>{Id("a2"), Id("a0"), Id("a3"), Id("a1")}));
}

TEST_F(ContainerStoreTest, ListBreaksTiesByInsertionOrder) {
  for (const char* p : {"b1", "a1", "c1"}) Insert(MakeContainer(Id(p), "", 1000));
  EXPECT_EQ(ListIds(true), (std::vector<std::string>{Id("c1"), Id("a1"), Id("b1")}));
}

// --- The file -----------------------------------------------------------------

TEST_F(ContainerStoreTest, SurvivesReopen) {
  Container c = MakeContainer(Id("abc1"), "kept", 1);
  c.labels = {{"slipway.build", "app:1"}, {"slipway.build.step", "3"}};
  c.ends_with_caller = true;
  Insert(c);
  store_.reset();
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  auto got = store_->Find("kept");
  ASSERT_TRUE(got.ok()) << got.status().message();
  ExpectSameContainer(c, *got);
  SQLite::Database raw(path_, SQLite::OPEN_READONLY);
  EXPECT_EQ(raw.execAndGet("SELECT version FROM schema_versions WHERE component = 'containers'").getInt(), 2);
}

TEST_F(ContainerStoreTest, SharesTheFileWithTheImageStore) {
  store_.reset();
  std::string root = dir_ + "/data";
  auto images = ImageStore::Open(root);
  ASSERT_TRUE(images.ok()) << images.status().message();
  path_ = root + "/slipway.db";
  store_ = Open();
  ASSERT_NE(store_, nullptr);

  ImageRecord image;
  image.id = Digest::Of("config");
  image.manifest_digest = Digest::Of("manifest");
  image.manifest_media_type = "application/vnd.oci.image.manifest.v1+json";
  image.created_unix_ms = 1;
  testing::ImageStoreParts parts = testing::OpenImageStoreParts(root);
  ASSERT_TRUE(parts.metadata->PutImage(image).ok());
  Insert(MakeContainer(Id("abc1"), "c", 1));

  auto list = (*images)->List();
  ASSERT_TRUE(list.ok()) << list.status().message();
  EXPECT_EQ(list->size(), 1u);
  EXPECT_EQ(ListIds(true), std::vector<std::string>{Id("abc1")});

  // Both again, in the other order, on the existing file.
  store_.reset();
  images->reset();
  parts = {};
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  auto again = ImageStore::Open(root);
  ASSERT_TRUE(again.ok()) << again.status().message();
  SQLite::Database raw(path_, SQLite::OPEN_READONLY);
  EXPECT_EQ(raw.execAndGet("SELECT version FROM schema_versions WHERE component = 'images'").getInt(), 1);
  EXPECT_TRUE((*again)->Resolve(image.id.str()).ok());
  EXPECT_TRUE(store_->Get(Id("abc1")).ok());
}

// One store used from many threads: the mutex serialises the connection.
TEST_F(ContainerStoreTest, ConcurrentUseFromThreads) {
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        char prefix[16];
        std::snprintf(prefix, sizeof prefix, "%02x%02x", t, i);
        Container c = MakeContainer(Id(prefix), "n" + std::string(prefix), t * 100 + i);
        if (!store_->Insert(c).ok()) ++failures;
        c.state = ContainerState::kExited;
        if (!store_->Update(c).ok()) ++failures;
        if (!store_->Find(c.name).ok()) ++failures;
        if (!store_->List(false).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(ListIds(true).size(), 160u);
  EXPECT_TRUE(ListIds(false).empty());
}

}  // namespace
}  // namespace slipway

namespace slipway {
namespace {

// List() keeps ended containers decoded; what it returns must still follow
// every update and removal.
TEST_F(ContainerStoreTest, ListFollowsUpdatesOfEndedContainers) {
  Container c = MakeContainer(Id("abc1"), "done", 1000);
  c.state = ContainerState::kExited;
  c.error = "first";
  Insert(c);
  auto listed = store_->List(/*all=*/true);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].error, "first");

  c.error = "second";
  ASSERT_TRUE(store_->Update(c).ok());
  listed = store_->List(/*all=*/true);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].error, "second");

  ASSERT_TRUE(store_->Delete(c.id).ok());
  listed = store_->List(/*all=*/true);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

}  // namespace
}  // namespace slipway
