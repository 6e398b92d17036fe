// Image metadata in SQLite: migrations, the image/layer/tag model and its
// cascades, and sharing one database file between handles and processes.
#include "engine/image/metadata.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/base/fs.h"
#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

Digest D(const std::string& seed) {
  return Digest::Of(seed);
}

// A digest whose hex starts with `prefix` (the rest from `seed`).
Digest WithPrefix(const std::string& prefix, const std::string& seed) {
  std::string hex = D(seed).hex();
  return Digest::FromHex(prefix + hex.substr(prefix.size()));
}

ImageRecord MakeImage(const std::string& seed, int layers) {
  ImageRecord r;
  r.id = D("config " + seed);
  r.manifest_digest = D("manifest " + seed);
  r.manifest_media_type = "application/vnd.oci.image.manifest.v1+json";
  r.created_unix_ms = 1700000000000;
  Digest chain;
  for (int i = 0; i < layers; ++i) {
    LayerRecord l;
    l.blob = D("blob " + seed + " " + std::to_string(i));
    l.media_type = "application/vnd.oci.image.layer.v1.tar+gzip";
    l.size = 1000 + i;
    l.diff_id = D("diff " + seed + " " + std::to_string(i));
    chain = chain.empty() ? l.diff_id : ChainId(chain, l.diff_id);
    l.chain_id = chain;
    r.layers.push_back(l);
  }
  return r;
}

// Raw SQLite access, independent of Metadata, to inspect or tamper with the file.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    sqlite3_busy_timeout(db_, 10000);
  }
  ~RawDb() { sqlite3_close(db_); }
  // The first column of the first row, as text ("" when there is none).
  std::string Get(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    std::string out;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db_);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(st, 0);
      if (text) out = reinterpret_cast<const char*>(text);
    }
    sqlite3_finalize(st);
    return out;
  }
  void Exec(const std::string& sql) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
  }

 private:
  sqlite3* db_ = nullptr;
};

class MetadataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("slipway-metadata");
    path_ = dir_ + "/slipway.db";
    db_ = Open();
    ASSERT_NE(db_, nullptr);
  }
  void TearDown() override {
    db_.reset();
    ASSERT_TRUE(RemoveTree(dir_).ok());
  }

  std::unique_ptr<Metadata> Open() {
    auto m = Metadata::Open(path_);
    EXPECT_TRUE(m.ok()) << m.status().message();
    if (!m.ok()) return nullptr;
    return std::move(m).value();
  }

  void Put(const ImageRecord& r) { ASSERT_TRUE(db_->PutImage(r).ok()); }

  std::optional<Digest> Lookup(Metadata& m, const std::string& name) {
    auto r = m.LookupTag(name);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : std::nullopt;
  }

  std::string dir_, path_;
  std::unique_ptr<Metadata> db_;
};

void ExpectSameImage(const ImageRecord& want, const ImageRecord& got) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.manifest_digest, want.manifest_digest);
  EXPECT_EQ(got.manifest_media_type, want.manifest_media_type);
  EXPECT_EQ(got.created_unix_ms, want.created_unix_ms);
  ASSERT_EQ(got.layers.size(), want.layers.size());
  for (size_t i = 0; i < want.layers.size(); ++i) {
    SCOPED_TRACE("layer " + std::to_string(i));
    EXPECT_EQ(got.layers[i].blob, want.layers[i].blob);
    EXPECT_EQ(got.layers[i].media_type, want.layers[i].media_type);
    EXPECT_EQ(got.layers[i].size, want.layers[i].size);
    EXPECT_EQ(got.layers[i].diff_id, want.layers[i].diff_id);
    EXPECT_EQ(got.layers[i].chain_id, want.layers[i].chain_id);
  }
}

// --- Schema -------------------------------------------------------------------

TEST_F(MetadataTest, FreshDatabaseIsMigratedToVersionOne) {
  EXPECT_EQ(db_->SchemaVersion(), 1);
  RawDb raw(path_);
  EXPECT_EQ(raw.Get("SELECT version FROM schema_versions WHERE component = 'images'"), "1");
  for (const char* table : {"images", "image_layers", "tags"}) {
    EXPECT_EQ(raw.Get(std::string("SELECT name FROM sqlite_master WHERE type='table' AND name='") + table + "'"),
              table);
  }
}

TEST_F(MetadataTest, ReopenKeepsDataAndDoesNotMigrateAgain) {
  ImageRecord image = MakeImage("a", 2);
  Put(image);
  ASSERT_TRUE(db_->Tag("docker.io/library/a:1", image.id).ok());
  db_.reset();

  auto again = Open();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->SchemaVersion(), 1);
  auto got = again->GetImage(image.id);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ExpectSameImage(image, *got);
  EXPECT_EQ(got->tags, std::vector<std::string>{"docker.io/library/a:1"});
}

TEST_F(MetadataTest, NewerSchemaIsRefusedAndLeftAlone) {
  db_.reset();
  {
    RawDb raw(path_);
    raw.Exec("UPDATE schema_versions SET version = 7 WHERE component = 'images'");
  }
  auto m = Metadata::Open(path_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Code::kFailedPrecondition) << m.status().message();
  EXPECT_NE(m.status().message().find("7"), std::string::npos) << m.status().message();
  EXPECT_NE(m.status().message().find("newer"), std::string::npos) << m.status().message();
  EXPECT_NE(m.status().message().find("images"), std::string::npos) << m.status().message();
  RawDb raw(path_);
  EXPECT_EQ(raw.Get("SELECT version FROM schema_versions WHERE component = 'images'"), "7");
}

TEST_F(MetadataTest, JournalModeIsWal) {
  RawDb raw(path_);
  EXPECT_EQ(raw.Get("PRAGMA journal_mode"), "wal");
}

// Several processes opening a brand-new database at once: one migrates, the
// others wait for it and see version 1; none fails on the lock.
TEST_F(MetadataTest, ConcurrentFirstOpensAllSucceed) {
  for (int round = 0; round < 5; ++round) {
    std::string path = dir_ + "/race-" + std::to_string(round) + ".db";
    std::vector<pid_t> children;
    for (int i = 0; i < 6; ++i) {
      pid_t pid = ::fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        auto m = Metadata::Open(path);
        if (!m.ok()) {
          std::fprintf(stderr, "open: %s\n", m.status().message().c_str());
          ::_exit(1);
        }
        ::_exit((*m)->SchemaVersion() == 1 ? 0 : 2);
      }
      children.push_back(pid);
    }
    for (pid_t pid : children) {
      int status = 0;
      ASSERT_EQ(::waitpid(pid, &status, 0), pid);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "round " << round << ": status " << status;
    }
  }
}

// --- Images -------------------------------------------------------------------

TEST_F(MetadataTest, PutGetRoundtripKeepsLayerOrder) {
  ImageRecord image = MakeImage("ordered", 4);
  // Blobs in descending order: a result sorted by digest would differ.
  std::sort(image.layers.begin(), image.layers.end(),
            [](const LayerRecord& a, const LayerRecord& b) { return a.blob.hex() > b.blob.hex(); });
  Put(image);
  auto got = db_->GetImage(image.id);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ExpectSameImage(image, *got);
  EXPECT_TRUE(got->tags.empty());
  EXPECT_EQ(got->Size(), 1000 + 1001 + 1002 + 1003);
}

TEST_F(MetadataTest, GetUnknownImageIsNotFound) {
  auto got = db_->GetImage(D("nothing"));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kNotFound);
}

TEST_F(MetadataTest, PutAgainReplacesLayersButKeepsTags) {
  ImageRecord image = MakeImage("re", 3);
  Put(image);
  ASSERT_TRUE(db_->Tag("docker.io/library/re:1", image.id).ok());
  ImageRecord smaller = image;
  smaller.layers.resize(1);
  Put(smaller);
  auto got = db_->GetImage(image.id);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(got->layers.size(), 1u);
  EXPECT_EQ(got->tags, std::vector<std::string>{"docker.io/library/re:1"});
}

TEST_F(MetadataTest, ListImagesReturnsEveryImage) {
  ImageRecord a = MakeImage("a", 1), b = MakeImage("b", 2);
  b.created_unix_ms = a.created_unix_ms + 1;
  Put(a);
  Put(b);
  auto list = db_->ListImages();
  ASSERT_TRUE(list.ok()) << list.status().message();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, b.id);  // newest first
  EXPECT_EQ((*list)[1].id, a.id);
  EXPECT_EQ((*list)[0].layers.size(), 2u);
}

// --- Tags ---------------------------------------------------------------------

TEST_F(MetadataTest, TagReplacesWhatTheNamePointedAt) {
  ImageRecord a = MakeImage("a", 1), b = MakeImage("b", 1);
  Put(a);
  Put(b);
  const std::string name = "docker.io/library/app:latest";
  ASSERT_TRUE(db_->Tag(name, a.id).ok());
  ASSERT_TRUE(db_->Tag(name, b.id).ok());
  EXPECT_EQ(Lookup(*db_, name), b.id);
  EXPECT_TRUE(db_->GetImage(a.id)->tags.empty());
  EXPECT_EQ(db_->GetImage(b.id)->tags, std::vector<std::string>{name});
}

TEST_F(MetadataTest, TagOfUnknownImageIsNotFound) {
  Status st = db_->Tag("docker.io/library/ghost:1", D("ghost"));
  EXPECT_EQ(st.code(), Code::kNotFound) << st.message();
  EXPECT_EQ(Lookup(*db_, "docker.io/library/ghost:1"), std::nullopt);
}

TEST_F(MetadataTest, UntagUnknownNameIsNotFound) {
  Status st = db_->Untag("docker.io/library/never:1");
  EXPECT_EQ(st.code(), Code::kNotFound) << st.message();
}

TEST_F(MetadataTest, UntagRemovesOnlyThatName) {
  ImageRecord a = MakeImage("a", 1);
  Put(a);
  ASSERT_TRUE(db_->Tag("docker.io/library/a:1", a.id).ok());
  ASSERT_TRUE(db_->Tag("docker.io/library/a:2", a.id).ok());
  ASSERT_TRUE(db_->Untag("docker.io/library/a:1").ok());
  EXPECT_EQ(Lookup(*db_, "docker.io/library/a:1"), std::nullopt);
  EXPECT_EQ(Lookup(*db_, "docker.io/library/a:2"), a.id);
  EXPECT_TRUE(db_->GetImage(a.id).ok());  // untagging never deletes the image
}

TEST_F(MetadataTest, DeleteImageRemovesItsTagsAndLayers) {
  ImageRecord a = MakeImage("a", 2), b = MakeImage("b", 1);
  Put(a);
  Put(b);
  ASSERT_TRUE(db_->Tag("docker.io/library/a:1", a.id).ok());
  ASSERT_TRUE(db_->Tag("docker.io/library/a:2", a.id).ok());
  ASSERT_TRUE(db_->Tag("docker.io/library/b:1", b.id).ok());
  ASSERT_TRUE(db_->DeleteImage(a.id).ok());

  EXPECT_EQ(db_->GetImage(a.id).status().code(), Code::kNotFound);
  EXPECT_EQ(Lookup(*db_, "docker.io/library/a:1"), std::nullopt);
  EXPECT_EQ(Lookup(*db_, "docker.io/library/a:2"), std::nullopt);
  EXPECT_EQ(Lookup(*db_, "docker.io/library/b:1"), b.id);
  RawDb raw(path_);
  EXPECT_EQ(raw.Get("SELECT count(*) FROM image_layers WHERE image_id = '" + a.id.str() + "'"), "0");
  EXPECT_EQ(raw.Get("SELECT count(*) FROM tags"), "1");
}

TEST_F(MetadataTest, DeleteUnknownImageIsNotFound) {
  EXPECT_EQ(db_->DeleteImage(D("ghost")).code(), Code::kNotFound);
}

// --- Lookups for short ids and garbage collection -----------------------------

TEST_F(MetadataTest, FindByIdPrefix) {
  ImageRecord a = MakeImage("a", 0), b = MakeImage("b", 0), c = MakeImage("c", 0);
  a.id = WithPrefix("abcd1", "a");
  b.id = WithPrefix("abcd2", "b");
  c.id = WithPrefix("ffff", "c");
  Put(a);
  Put(b);
  Put(c);
  auto both = db_->FindByIdPrefix("abcd");
  ASSERT_TRUE(both.ok());
  std::sort(both->begin(), both->end());
  EXPECT_EQ(*both, (std::vector<Digest>{a.id, b.id}));
  EXPECT_EQ(*db_->FindByIdPrefix("abcd2"), std::vector<Digest>{b.id});
  EXPECT_EQ(*db_->FindByIdPrefix(b.id.hex()), std::vector<Digest>{b.id});
  EXPECT_TRUE(db_->FindByIdPrefix("0123")->empty());
  // Not hex, or not lowercase: no match (and no SQL surprises).
  EXPECT_TRUE(db_->FindByIdPrefix("ABCD")->empty());
  EXPECT_TRUE(db_->FindByIdPrefix("ab%")->empty());
  EXPECT_TRUE(db_->FindByIdPrefix("sha256:abcd")->empty());
}

TEST_F(MetadataTest, ReferencedBlobsAndSnapshotsFollowTheImages) {
  ImageRecord a = MakeImage("a", 2);
  ImageRecord b = MakeImage("b", 1);
  b.layers[0] = a.layers[0];  // a shared base layer
  Put(a);
  Put(b);

  auto blobs = db_->ReferencedBlobs();
  ASSERT_TRUE(blobs.ok());
  std::set<Digest> want = {a.id, a.manifest_digest, a.layers[0].blob, a.layers[1].blob, b.id,
                           b.manifest_digest};
  EXPECT_EQ(*blobs, want);
  auto snaps = db_->ReferencedSnapshots();
  ASSERT_TRUE(snaps.ok());
  EXPECT_EQ(*snaps, (std::set<Digest>{a.layers[0].chain_id, a.layers[1].chain_id}));

  ASSERT_TRUE(db_->DeleteImage(a.id).ok());
  EXPECT_EQ(*db_->ReferencedBlobs(), (std::set<Digest>{b.id, b.manifest_digest, a.layers[0].blob}));
  EXPECT_EQ(*db_->ReferencedSnapshots(), std::set<Digest>{a.layers[0].chain_id});
}

// --- Sharing ------------------------------------------------------------------

TEST_F(MetadataTest, TwoHandlesOnOneFileSeeEachOthersWrites) {
  auto other = Open();
  ASSERT_NE(other, nullptr);
  ImageRecord a = MakeImage("a", 1);
  Put(a);
  auto seen = other->GetImage(a.id);
  ASSERT_TRUE(seen.ok()) << seen.status().message();
  ExpectSameImage(a, *seen);

  ASSERT_TRUE(other->Tag("docker.io/library/a:1", a.id).ok());
  EXPECT_EQ(Lookup(*db_, "docker.io/library/a:1"), a.id);
  ASSERT_TRUE(db_->DeleteImage(a.id).ok());
  EXPECT_EQ(other->GetImage(a.id).status().code(), Code::kNotFound);
  EXPECT_EQ(Lookup(*other, "docker.io/library/a:1"), std::nullopt);
}

TEST_F(MetadataTest, AnotherProcessSeesWritesAndWritesBack) {
  ImageRecord a = MakeImage("a", 1), b = MakeImage("b", 2);
  Put(a);
  // The child opens its own handle, reads what we wrote, and writes b.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto m = Metadata::Open(path_);
    if (!m.ok()) ::_exit(1);
    if (!(*m)->GetImage(a.id).ok()) ::_exit(2);
    if (!(*m)->PutImage(b).ok()) ::_exit(3);
    if (!(*m)->Tag("docker.io/library/b:1", b.id).ok()) ::_exit(4);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  auto got = db_->GetImage(b.id);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ExpectSameImage(b, *got);
  EXPECT_EQ(got->tags, std::vector<std::string>{"docker.io/library/b:1"});
}

}  // namespace
}  // namespace slipway
