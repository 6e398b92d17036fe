// The image store as `import`, `tag`, `rmi`, `image prune` and `run` use it:
// real content store, snapshots and SQLite metadata in a temp dir, and a real
// sandbox to prove an image is runnable.
#include "engine/image/image_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "engine/base/fs.h"
#include "engine/image/layer_writer.h"
#include "engine/oci/manifest.h"
#include "tests/engine/distribution/image_test_util.h"
#include "tests/engine/image/image_store_parts.h"
#include "tests/engine/image/test_layers.h"
#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

namespace fs = std::filesystem;
using testing::BusyboxTar;
using testing::BusyboxTarPath;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("slipway-imgstore");
    root_ = dir_ + "/store";
    auto s = ImageStore::Open(root_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
    // Opened while the store is empty: opening cleans stale ingests and
    // tmp dirs, which must not hide what a test leaves behind.
    parts_ = testing::OpenImageStoreParts(root_);
  }
  void TearDown() override {
    store_.reset();
    parts_ = {};
    ASSERT_TRUE(RemoveTree(dir_).ok());
  }

  ImageRecord Import(const std::string& path, const std::string& name) {
    auto image = ImportRootfsTar(*store_, path, name);
    EXPECT_TRUE(image.ok()) << image.status().message();
    return image.ok() ? *image : ImageRecord();
  }
  ImageRecord ImportBusybox(const std::string& name = "busybox:x") { return Import(BusyboxTarPath(), name); }

  // Writes `data` to a file in the test dir; returns its path.
  std::string File(const std::string& name, const std::string& data) {
    std::string p = dir_ + "/" + name;
    testing::WriteTestFile(p, data);
    return p;
  }

  // A manifest (and its config and layer blobs) in the content store; the
  // config lists `diff_ids` whatever the layers really are.
  Digest PutImageBlobs(const std::vector<std::string>& layer_tars, const std::vector<Digest>& diff_ids,
                       const std::string& cmd = "") {
    ImageConfig config;
    config.diff_ids = diff_ids;
    if (!cmd.empty()) config.cmd = {cmd};
    std::string config_json = config.ToJson();
    auto config_digest = store_->PutBlob(config_json);
    EXPECT_TRUE(config_digest.ok());
    Manifest m;
    m.media_type = media_type::kOciManifest;
    m.config = DescribeContent(media_type::kOciConfig, config_json);
    for (const std::string& tar : layer_tars) {
      std::string gz = testing::Gzip(tar);
      EXPECT_TRUE(store_->PutBlob(gz).ok());
      m.layers.push_back(DescribeContent(media_type::kOciLayerTarGzip, gz));
    }
    std::string body = SerializeManifest(m);
    auto d = store_->PutBlob(body);
    EXPECT_TRUE(d.ok());
    return d.ok() ? *d : Digest();
  }
  Digest PutImageBlobs(const std::vector<std::string>& layer_tars, const std::string& cmd = "") {
    std::vector<Digest> diffs;
    for (const auto& t : layer_tars) diffs.push_back(Digest::Of(t));
    return PutImageBlobs(layer_tars, diffs, cmd);
  }

  std::vector<ImageRecord> Images() {
    auto list = store_->List();
    EXPECT_TRUE(list.ok());
    return list.ok() ? *list : std::vector<ImageRecord>{};
  }
  // Names in the snapshots root (complete snapshots and tmp-* dirs alike).
  std::vector<std::string> SnapshotRootEntries() {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(root_ + "/snapshots")) out.push_back(e.path().filename());
    return out;
  }
  std::vector<std::string> IngestEntries() {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(root_ + "/content/ingest"))
      out.push_back(e.path().filename());
    return out;
  }

  std::string dir_, root_;
  std::unique_ptr<ImageStore> store_;
  testing::ImageStoreParts parts_;  // the store's parts, to look behind its methods
};

// --- Import ---------------------------------------------------------------------

TEST_F(ImageStoreTest, ImportPlainTarMakesAOneLayerImage) {
  ImageRecord image = ImportBusybox();
  ASSERT_EQ(image.layers.size(), 1u);
  auto config = store_->Config(image);
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_EQ(config->diff_ids.size(), 1u);
  // The diff id is the sha256 of the uncompressed tar, computed independently.
  EXPECT_EQ(config->diff_ids[0].hex(), testing::ExternalSha256(BusyboxTar()));
  EXPECT_EQ(image.layers[0].diff_id, config->diff_ids[0]);
  EXPECT_EQ(image.layers[0].chain_id, config->diff_ids[0]);  // a bottom layer's chain id is its diff id
  EXPECT_EQ(image.layers[0].media_type, media_type::kOciLayerTarGzip);
  EXPECT_EQ(image.manifest_media_type, media_type::kOciManifest);
  // The id is the config blob's digest.
  auto config_blob = store_->ConfigJson(image.id);
  ASSERT_TRUE(config_blob.ok());
  EXPECT_EQ(Digest::Of(*config_blob), image.id);
  EXPECT_EQ(config->architecture, "amd64");
  EXPECT_EQ(config->os, "linux");
}

TEST_F(ImageStoreTest, ImportedLayerBlobIsTheGzippedTar) {
  ImageRecord image = ImportBusybox();
  ASSERT_EQ(image.layers.size(), 1u);
  std::string blob_path = store_->BlobPath(image.layers[0].blob);
  std::string out;
  ASSERT_EQ(testing::RunShell("gzip -dc " + blob_path + " | sha256sum", &out), 0) << out;
  EXPECT_EQ(out.substr(0, 64), image.layers[0].diff_id.hex());
  EXPECT_EQ(image.layers[0].size, static_cast<int64_t>(fs::file_size(blob_path)));
  EXPECT_TRUE(parts_.content->Verify(image.layers[0].blob).ok());
}

TEST_F(ImageStoreTest, ImportedImageLowerDirIsTheUnpackedRootfs) {
  ImageRecord image = ImportBusybox();
  auto dirs = store_->LowerDirs(image);
  ASSERT_TRUE(dirs.ok()) << dirs.status().message();
  ASSERT_EQ(dirs->size(), 1u);
  EXPECT_EQ((*dirs)[0], parts_.snapshots->Path(image.layers[0].chain_id));
  struct stat st;
  ASSERT_EQ(::stat(((*dirs)[0] + "/bin/busybox").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode) && (st.st_mode & 0111));
  EXPECT_EQ(fs::read_symlink((*dirs)[0] + "/bin/sh"), "busybox");
  EXPECT_EQ(testing::ReadTestFile((*dirs)[0] + "/etc/passwd"),
            testing::ReadTestFile(testing::BusyboxRootfs() + "/etc/passwd"));
}

TEST_F(ImageStoreTest, ImportGzipTarHasTheDiffIdOfTheUncompressedTar) {
  std::string gz = File("rootfs.tar.gz", testing::Gzip(BusyboxTar()));
  ImageRecord image = Import(gz, "busybox:gz");
  ASSERT_EQ(image.layers.size(), 1u);
  EXPECT_EQ(image.layers[0].diff_id.hex(), testing::ExternalSha256(BusyboxTar()));
  // The same filesystem as the plain tar: the same snapshot.
  ImageRecord plain = ImportBusybox("busybox:plain");
  ASSERT_EQ(plain.layers.size(), 1u);
  EXPECT_EQ(plain.layers[0].chain_id, image.layers[0].chain_id);
  EXPECT_EQ(parts_.snapshots->List().size(), 1u);
}

TEST_F(ImageStoreTest, ImportWithoutNameLeavesAnUntaggedImage) {
  ImageRecord image = ImportBusybox("");
  EXPECT_FALSE(image.id.empty());
  EXPECT_TRUE(image.tags.empty());
  EXPECT_EQ(Images().size(), 1u);
}

TEST_F(ImageStoreTest, ImportOfANonTarFailsAndRecordsNoImage) {
  std::string path = File("notes.txt", "this is not a tar archive, just some text\n");
  auto image = ImportRootfsTar(*store_, path, "junk:1");
  ASSERT_FALSE(image.ok());
  // The error names the file the user gave, not some internal blob.
  EXPECT_TRUE(Contains(image.status().message(), path)) << image.status().message();
  EXPECT_TRUE(Contains(image.status().message(), "not a tar")) << image.status().message();
  EXPECT_TRUE(Images().empty());
  EXPECT_EQ(store_->Resolve("junk:1").status().code(), Code::kNotFound);
  EXPECT_TRUE(parts_.snapshots->List().empty());
  // Blobs written on the way are garbage: prune leaves the store empty.
  ASSERT_TRUE(store_->Prune().ok());
  EXPECT_TRUE(parts_.content->List().empty());
  EXPECT_TRUE(SnapshotRootEntries().empty());
  EXPECT_TRUE(IngestEntries().empty());
}

TEST_F(ImageStoreTest, ImportOfCompressedNonTarDataFails) {
  std::string noise(4096, '\0');
  for (size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<char>((i * 2654435761u) >> 13);
  std::string path = File("random.gz", testing::Gzip(noise));
  auto image = ImportRootfsTar(*store_, path, "junk:1");
  ASSERT_FALSE(image.ok());
  EXPECT_TRUE(Contains(image.status().message(), path)) << image.status().message();
  EXPECT_TRUE(Images().empty());
  ASSERT_TRUE(store_->Prune().ok());
  EXPECT_TRUE(parts_.content->List().empty());
  EXPECT_TRUE(SnapshotRootEntries().empty());
}

TEST_F(ImageStoreTest, ImportOfAnEmptyTarMakesAnEmptyLayer) {
  std::string path = File("empty.tar", std::string(10240, '\0'));
  ImageRecord image = Import(path, "empty:1");
  ASSERT_EQ(image.layers.size(), 1u);
  EXPECT_EQ(image.layers[0].diff_id.hex(), testing::ExternalSha256(std::string(10240, '\0')));
  EXPECT_TRUE(store_->HasSnapshot(image.layers[0].chain_id));
}

TEST_F(ImageStoreTest, ImportOfAMissingFileIsNotFound) {
  auto image = ImportRootfsTar(*store_, dir_ + "/no-such.tar", "x:1");
  ASSERT_FALSE(image.ok());
  EXPECT_TRUE(Contains(image.status().message(), "no-such.tar")) << image.status().message();
  EXPECT_TRUE(Images().empty());
}

// --- Resolve --------------------------------------------------------------------

// The store's cap on a layer's uncompressed size holds for every image it
// commits (pulled, loaded or imported): past it nothing is recorded or left.
TEST_F(ImageStoreTest, LayersLargerThanTheCapAreRefused) {
  store_.reset();
  auto capped = ImageStore::Open(root_, 1 << 20);
  ASSERT_TRUE(capped.ok()) << capped.status().ToString();
  store_ = std::move(capped).value();
  std::string big = testing::MakeTar({testing::File("zeros", std::string(4 << 20, '\0'))});
  auto image = store_->Commit(PutImageBlobs({big}), "big:1");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), Code::kResourceExhausted) << image.status().ToString();
  EXPECT_TRUE(Images().empty());
  EXPECT_TRUE(SnapshotRootEntries().empty());
  std::string small = testing::MakeTar({testing::File("f", "small")});
  EXPECT_TRUE(store_->Commit(PutImageBlobs({small}), "small:1").ok());
}

TEST_F(ImageStoreTest, NormalizeNameAsDocker) {
  EXPECT_EQ(*ImageStore::NormalizeName("busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(*ImageStore::NormalizeName("busybox:x"), "docker.io/library/busybox:x");
  EXPECT_EQ(*ImageStore::NormalizeName("user/app:1"), "docker.io/user/app:1");
  EXPECT_EQ(*ImageStore::NormalizeName("localhost:5000/a/b"), "localhost:5000/a/b:latest");
  EXPECT_FALSE(ImageStore::NormalizeName("UPPER/case").ok());
  EXPECT_FALSE(ImageStore::NormalizeName("a:b:c").ok());
}

TEST_F(ImageStoreTest, ResolveByNameIsNormalized) {
  ImageRecord image = ImportBusybox("busybox:x");
  EXPECT_EQ(image.tags, std::vector<std::string>{"docker.io/library/busybox:x"});
  for (const char* name : {"busybox:x", "library/busybox:x", "docker.io/library/busybox:x"}) {
    auto r = store_->Resolve(name);
    ASSERT_TRUE(r.ok()) << name << ": " << r.status().message();
    EXPECT_EQ(r->id, image.id) << name;
  }
  // Another tag of the repository is another name.
  EXPECT_EQ(store_->Resolve("busybox").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->Resolve("busybox:y").status().code(), Code::kNotFound);
}

TEST_F(ImageStoreTest, ResolveByFullId) {
  ImageRecord image = ImportBusybox();
  auto r = store_->Resolve(image.id.str());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->id, image.id);
  EXPECT_EQ(r->tags, image.tags);
}

TEST_F(ImageStoreTest, ResolveByShortIdPrefix) {
  ImageRecord image = ImportBusybox();
  for (size_t n : {4, 12, 64}) {
    auto r = store_->Resolve(image.id.hex().substr(0, n));
    ASSERT_TRUE(r.ok()) << n << ": " << r.status().message();
    EXPECT_EQ(r->id, image.id);
  }
  // Fewer than 4 hex digits is no id.
  EXPECT_EQ(store_->Resolve(image.id.hex().substr(0, 3)).status().code(), Code::kNotFound);
}

TEST_F(ImageStoreTest, ResolveOfAnAmbiguousPrefixIsAnError) {
  // Two records whose ids share a 6-digit prefix (ids are digests, so made up).
  ImageRecord a, b;
  a.id = Digest::FromHex("abcdef1" + Digest::Of("a").hex().substr(7));
  b.id = Digest::FromHex("abcdef2" + Digest::Of("b").hex().substr(7));
  a.manifest_digest = Digest::Of("ma");
  b.manifest_digest = Digest::Of("mb");
  ASSERT_TRUE(parts_.metadata->PutImage(a).ok());
  ASSERT_TRUE(parts_.metadata->PutImage(b).ok());
  auto r = store_->Resolve("abcdef");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(r.status().message(), "ambiguous")) << r.status().message();
  // One more digit decides.
  auto one = store_->Resolve(a.id.hex().substr(0, 7));
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(one->id, a.id);
}

TEST_F(ImageStoreTest, ResolveOfUnknownReferencesIsNotFound) {
  ImportBusybox();
  for (const std::string& ref :
       std::vector<std::string>{"nothing:here", "sha256:" + std::string(64, '0'), "0000000000"}) {
    auto r = store_->Resolve(ref);
    ASSERT_FALSE(r.ok()) << ref;
    EXPECT_EQ(r.status().code(), Code::kNotFound) << ref << ": " << r.status().message();
  }
  // A malformed id is an error too, not an image.
  EXPECT_FALSE(store_->Resolve("sha256:xyz").ok());
  // So is a reference that could never name one.
  for (const std::string& ref : std::vector<std::string>{"UPPER/case", "a:b:c", "Bad Ref"}) {
    auto r = store_->Resolve(ref);
    ASSERT_FALSE(r.ok()) << ref;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << ref << ": " << r.status().message();
  }
}

// --- Tag and remove -------------------------------------------------------------

TEST_F(ImageStoreTest, TagAddsANameForTheSameImage) {
  ImageRecord image = ImportBusybox("busybox:x");
  ASSERT_TRUE(store_->Tag("busybox:x", "localhost:5000/team/app:2").ok());
  auto r = store_->Resolve("localhost:5000/team/app:2");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->id, image.id);
  EXPECT_EQ(r->tags, (std::vector<std::string>{"docker.io/library/busybox:x", "localhost:5000/team/app:2"}));
  EXPECT_EQ(Images().size(), 1u);
}

TEST_F(ImageStoreTest, TagByShortIdWorks) {
  ImageRecord image = ImportBusybox("");
  ASSERT_TRUE(store_->Tag(image.id.hex().substr(0, 12), "named:1").ok());
  EXPECT_EQ(store_->Resolve("named:1")->id, image.id);
}

TEST_F(ImageStoreTest, TagMovesANameFromAnotherImage) {
  ImageRecord first = ImportBusybox("app:1");
  Digest other = PutImageBlobs({testing::MakeTar({testing::File("hello", "world")})});
  auto second = store_->Commit(other, "app:2");
  ASSERT_TRUE(second.ok()) << second.status().message();
  ASSERT_TRUE(store_->Tag("app:2", "app:1").ok());
  EXPECT_EQ(store_->Resolve("app:1")->id, second->id);
  EXPECT_TRUE(parts_.metadata->GetImage(first.id)->tags.empty());
}

TEST_F(ImageStoreTest, TagErrorsChangeNothing) {
  ImageRecord image = ImportBusybox("busybox:x");
  Status unknown = store_->Tag("nothing:1", "new:1");
  EXPECT_EQ(unknown.code(), Code::kNotFound) << unknown.message();
  Status invalid = store_->Tag("busybox:x", "Bad/Name");
  EXPECT_FALSE(invalid.ok());
  EXPECT_EQ(parts_.metadata->GetImage(image.id)->tags,
            std::vector<std::string>{"docker.io/library/busybox:x"});
}

TEST_F(ImageStoreTest, RemoveOfOneTagKeepsTheImageWhileAnotherRemains) {
  ImageRecord image = ImportBusybox("busybox:x");
  ASSERT_TRUE(store_->Tag("busybox:x", "busybox:y").ok());
  auto removed = store_->Remove("busybox:x", false);
  ASSERT_TRUE(removed.ok()) << removed.status().message();
  EXPECT_TRUE(removed->empty());
  EXPECT_EQ(store_->Resolve("busybox:x").status().code(), Code::kNotFound);
  auto still = store_->Resolve("busybox:y");
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->id, image.id);
  EXPECT_EQ(still->tags, std::vector<std::string>{"docker.io/library/busybox:y"});
}

TEST_F(ImageStoreTest, RemoveOfTheLastTagRemovesTheImage) {
  ImageRecord image = ImportBusybox("busybox:x");
  auto removed = store_->Remove("busybox:x", false);
  ASSERT_TRUE(removed.ok()) << removed.status().message();
  EXPECT_EQ(*removed, std::vector<Digest>{image.id});
  EXPECT_EQ(parts_.metadata->GetImage(image.id).status().code(), Code::kNotFound);
  // Blobs and layers stay until Prune().
  EXPECT_TRUE(store_->HasBlob(image.layers[0].blob));
  EXPECT_TRUE(store_->HasSnapshot(image.layers[0].chain_id));
}

TEST_F(ImageStoreTest, RemoveByIdOfAnImageTaggedTwiceNeedsForce) {
  ImageRecord image = ImportBusybox("busybox:x");
  ASSERT_TRUE(store_->Tag("busybox:x", "busybox:y").ok());
  auto refused = store_->Remove(image.id.str(), false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition) << refused.status().message();
  EXPECT_EQ(parts_.metadata->GetImage(image.id)->tags.size(), 2u);

  auto forced = store_->Remove(image.id.str(), true);
  ASSERT_TRUE(forced.ok()) << forced.status().message();
  EXPECT_EQ(*forced, std::vector<Digest>{image.id});
  EXPECT_EQ(store_->Resolve("busybox:x").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->Resolve("busybox:y").status().code(), Code::kNotFound);
  EXPECT_TRUE(Images().empty());
}

TEST_F(ImageStoreTest, RemoveByShortIdOfAnImageTaggedOnce) {
  ImageRecord image = ImportBusybox("busybox:x");
  auto removed = store_->Remove(image.id.hex().substr(0, 12), false);
  ASSERT_TRUE(removed.ok()) << removed.status().message();
  EXPECT_EQ(*removed, std::vector<Digest>{image.id});
  EXPECT_EQ(store_->Resolve("busybox:x").status().code(), Code::kNotFound);
}

TEST_F(ImageStoreTest, RemoveOfAnUnknownImageIsNotFound) {
  ImportBusybox("busybox:x");
  auto removed = store_->Remove("busybox:nope", false);
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(removed.status().code(), Code::kNotFound);
  EXPECT_EQ(Images().size(), 1u);
}

// --- Prune ----------------------------------------------------------------------

TEST_F(ImageStoreTest, PruneRemovesWhatNoImageUsesAndKeepsTheRest) {
  ImageRecord kept = ImportBusybox("busybox:x");
  Digest other = PutImageBlobs({testing::MakeTar({testing::File("only-in-other", "x")})});
  auto gone = store_->Commit(other, "other:1");
  ASSERT_TRUE(gone.ok()) << gone.status().message();
  ASSERT_TRUE(store_->Remove("other:1", false).ok());
  auto stray = store_->PutBlob("a blob nothing refers to");
  ASSERT_TRUE(stray.ok());

  auto report = store_->Prune();
  ASSERT_TRUE(report.ok()) << report.status().message();
  std::vector<Digest> want_blobs = {gone->id, gone->manifest_digest, gone->layers[0].blob, *stray};
  std::sort(want_blobs.begin(), want_blobs.end());
  std::vector<Digest> got_blobs = report->blobs;
  std::sort(got_blobs.begin(), got_blobs.end());
  EXPECT_EQ(got_blobs, want_blobs);
  EXPECT_EQ(report->snapshots, std::vector<Digest>{gone->layers[0].chain_id});

  // What the remaining image uses is all that is left, and it still works.
  std::vector<Digest> want_left = {kept.id, kept.manifest_digest, kept.layers[0].blob};
  std::sort(want_left.begin(), want_left.end());
  EXPECT_EQ(parts_.content->List(), want_left);
  EXPECT_EQ(parts_.snapshots->List(), std::vector<Digest>{kept.layers[0].chain_id});
  auto dirs = store_->LowerDirs(*store_->Resolve("busybox:x"));
  ASSERT_TRUE(dirs.ok()) << dirs.status().message();
  EXPECT_TRUE(PathExists((*dirs)[0] + "/bin/busybox"));
}

TEST_F(ImageStoreTest, PruneRemovesUntaggedImages) {
  ImageRecord untagged = ImportBusybox("");
  auto report = store_->Prune();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->images, std::vector<Digest>{untagged.id});
  EXPECT_TRUE(Images().empty());
  EXPECT_TRUE(parts_.content->List().empty());
  EXPECT_TRUE(parts_.snapshots->List().empty());
}

TEST_F(ImageStoreTest, PruneKeepsALayerSharedWithALiveImage) {
  std::string base = testing::MakeTar({testing::File("base", "b")});
  std::string top = testing::MakeTar({testing::File("top", "t")});
  auto a = store_->Commit(PutImageBlobs({base}), "a:1");
  auto b = store_->Commit(PutImageBlobs({base, top}, "b"), "b:1");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(store_->Remove("b:1", false).ok());
  auto report = store_->Prune();
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->snapshots, std::vector<Digest>{b->layers[1].chain_id});
  EXPECT_TRUE(store_->HasSnapshot(a->layers[0].chain_id));
  EXPECT_TRUE(store_->HasBlob(a->layers[0].blob));
}

// Prune takes the GC lock exclusively: while an importer holds a write lease,
// a blob it wrote but has not committed yet survives a concurrent prune.
TEST_F(ImageStoreTest, PruneWaitsForWriteLeases) {
  auto lease = store_->Lease();
  ASSERT_TRUE(lease.ok());
  auto blob = store_->PutBlob("being imported");
  ASSERT_TRUE(blob.ok());
  std::atomic<bool> done{false};
  std::thread pruner([&] {
    auto other = ImageStore::Open(root_);  // as another process would
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE((*other)->Prune().ok());
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(done);
  EXPECT_TRUE(store_->HasBlob(*blob));
  { WriteLease release = std::move(*lease); }
  pruner.join();
  EXPECT_TRUE(done);
  EXPECT_FALSE(store_->HasBlob(*blob));  // nothing recorded it before the lease ended
}

// --- Commit ---------------------------------------------------------------------

TEST_F(ImageStoreTest, CommitWithAWrongDiffIdRecordsNothingAndLeavesNoSnapshot) {
  std::string tar = testing::MakeTar({testing::File("a", "1")});
  Digest wrong = Digest::Of("not the tar");
  Digest manifest = PutImageBlobs({tar}, {wrong});
  auto image = store_->Commit(manifest, "mismatch:1");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), Code::kInvalidArgument) << image.status().message();
  EXPECT_TRUE(Contains(image.status().message(), wrong.str())) << image.status().message();
  EXPECT_TRUE(Contains(image.status().message(), Digest::Of(tar).str())) << image.status().message();
  EXPECT_TRUE(Images().empty());
  EXPECT_EQ(store_->Resolve("mismatch:1").status().code(), Code::kNotFound);
  EXPECT_TRUE(SnapshotRootEntries().empty());  // neither a snapshot nor a tmp dir
}

TEST_F(ImageStoreTest, CommitFailingOnALaterLayerRecordsNothingAndPruneCleansUp) {
  std::string good = testing::MakeTar({testing::File("good", "1")});
  std::string bad = testing::MakeTar({testing::File("bad", "2")});
  Digest manifest = PutImageBlobs({good, bad}, {Digest::Of(good), Digest::Of("wrong")});
  auto image = store_->Commit(manifest, "half:1");
  ASSERT_FALSE(image.ok());
  EXPECT_TRUE(Images().empty());
  for (const std::string& e : SnapshotRootEntries()) EXPECT_FALSE(e.starts_with("tmp-")) << e;
  ASSERT_TRUE(store_->Prune().ok());
  EXPECT_TRUE(SnapshotRootEntries().empty());
  EXPECT_TRUE(parts_.content->List().empty());
}

TEST_F(ImageStoreTest, CommitWithAMissingLayerBlobIsNotFound) {
  std::string tar = testing::MakeTar({testing::File("a", "1")});
  Digest manifest = PutImageBlobs({tar});
  auto m = ParseManifest(*parts_.content->Read(manifest, 1 << 20));
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(parts_.content->Delete(m->layers[0].digest).ok());
  auto image = store_->Commit(manifest, "missing:1");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), Code::kNotFound) << image.status().message();
  EXPECT_TRUE(Images().empty());
  EXPECT_TRUE(SnapshotRootEntries().empty());
}

TEST_F(ImageStoreTest, CommitWithMoreLayersThanDiffIdsIsRefused) {
  std::string a = testing::MakeTar({testing::File("a", "1")});
  std::string b = testing::MakeTar({testing::File("b", "2")});
  Digest manifest = PutImageBlobs({a, b}, {Digest::Of(a)});
  auto image = store_->Commit(manifest, "count:1");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), Code::kInvalidArgument) << image.status().message();
  EXPECT_TRUE(Images().empty());
  EXPECT_TRUE(SnapshotRootEntries().empty());
}

TEST_F(ImageStoreTest, LowerDirsAreTopmostFirst) {
  std::string base = testing::MakeTar({testing::File("which", "base"), testing::File("base-only", "b")});
  std::string top = testing::MakeTar({testing::File("which", "top")});
  auto image = store_->Commit(PutImageBlobs({base, top}), "stack:1");
  ASSERT_TRUE(image.ok()) << image.status().message();
  auto dirs = store_->LowerDirs(*image);
  ASSERT_TRUE(dirs.ok());
  ASSERT_EQ(dirs->size(), 2u);
  EXPECT_EQ(testing::ReadTestFile((*dirs)[0] + "/which"), "top");
  EXPECT_EQ(testing::ReadTestFile((*dirs)[1] + "/which"), "base");
  EXPECT_EQ((*dirs)[0], parts_.snapshots->Path(ChainId(Digest::Of(base), Digest::Of(top))));
}

TEST_F(ImageStoreTest, LowerDirsOfAnImageWhoseSnapshotVanishedIsAnError) {
  ImageRecord image = ImportBusybox();
  ASSERT_TRUE(parts_.snapshots->Remove(image.layers[0].chain_id).ok());
  auto dirs = store_->LowerDirs(image);
  ASSERT_FALSE(dirs.ok());
  EXPECT_EQ(dirs.status().code(), Code::kFailedPrecondition) << dirs.status().message();
}

// --- Run --------------------------------------------------------------------------

TEST_F(ImageStoreTest, AnImportedImageRunsInASandbox) {
  ImageRecord image = ImportBusybox("busybox:x");
  auto dirs = store_->LowerDirs(*store_->Resolve("busybox:x"));
  ASSERT_TRUE(dirs.ok()) << dirs.status().message();
  testing::TestRuntime runtime;
  ASSERT_TRUE(runtime.ok()) << runtime.open_error();
  auto run =
      runtime.Run(*dirs, {"sh", "-c", "echo from-image; head -1 /etc/passwd; echo scribble > /bin/new"});
  ASSERT_TRUE(run.error.empty()) << run.error;
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "from-image\nroot:x:0:0:root:/root:/bin/sh\n");
  // The snapshot is a read-only lower dir: the sandbox's write did not reach it.
  EXPECT_FALSE(PathExists((*dirs)[0] + "/bin/new"));
}

}  // namespace
}  // namespace slipway
