// `save` and `load`: our archives round-trip, skopeo reads them and writes
// archives we read, and hostile archives are refused without writing outside
// the store or recording an image.
#include "engine/image/oci_archive.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/base/fs.h"
#include "engine/image/layer_writer.h"
#include "engine/oci/manifest.h"
#include "tests/engine/distribution/image_test_util.h"
#include "tests/engine/image/image_store_parts.h"
#include "tests/engine/image/test_layers.h"
#include "tests/engine/registry/registry_fixture.h"
#include "tests/testing/fixtures.h"

namespace slipway {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::TarEntry;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

constexpr char kLayout[] = R"({"imageLayoutVersion":"1.0.0"})";

// Removes a directory the test made outside its own temp dir.
struct LayoutGuard {
  std::string dir;
  ~LayoutGuard() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

class OciArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("slipway-ociarchive");
    store_ = OpenStore("store");
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    other_.reset();
    other_parts_ = {};
    ASSERT_TRUE(RemoveTree(dir_).ok());
  }

  std::unique_ptr<ImageStore> OpenStore(const std::string& name) {
    auto s = ImageStore::Open(dir_ + "/" + name);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  // A second, empty store to load into.
  ImageStore& Other() {
    if (!other_) {
      other_ = OpenStore("other");
      // Opened while the store is empty: opening cleans stale ingests and
      // tmp dirs, which must not hide what a test leaves behind.
      other_parts_ = testing::OpenImageStoreParts(dir_ + "/other");
    }
    return *other_;
  }
  // Its parts, to look behind its methods.
  testing::ImageStoreParts& OtherParts() {
    Other();
    return other_parts_;
  }

  ImageRecord ImportBusybox(const std::string& name) {
    auto image = ImportRootfsTar(*store_, testing::BusyboxTarPath(), name);
    EXPECT_TRUE(image.ok()) << image.status().message();
    return image.ok() ? *image : ImageRecord();
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  std::vector<ImageRecord> Images(ImageStore& s) {
    auto list = s.List();
    EXPECT_TRUE(list.ok());
    return list.ok() ? *list : std::vector<ImageRecord>{};
  }

  // Every path below the test dir, outside the two stores' content: where a
  // hostile entry name could have landed.
  std::vector<std::string> FilesOutsideStores() {
    std::vector<std::string> out;
    for (const std::string& p : testing::ListTree(dir_)) {
      if (p == dir_ + "/store" || p == dir_ + "/other") continue;
      if (p.starts_with(dir_ + "/store/") || p.starts_with(dir_ + "/other/")) continue;
      out.push_back(p);
    }
    return out;
  }

  // A load of `entries` (as a tar) into Other(): must fail, record no image.
  Status LoadMustFail(const std::vector<TarEntry>& entries) {
    std::string path = Path("hostile.tar");
    testing::WriteTestFile(path, testing::MakeTar(entries));
    auto loaded = LoadOciArchive(Other(), path);
    EXPECT_FALSE(loaded.ok());
    EXPECT_TRUE(Images(Other()).empty());
    return loaded.ok() ? Status::Ok() : loaded.status();
  }

  std::string dir_;
  std::unique_ptr<ImageStore> store_, other_;
  testing::ImageStoreParts other_parts_;
};

// A one-layer image as archive entries: its blobs and an index pointing at it.
struct ArchiveImage {
  std::string layer_gz, config, manifest;
  Digest layer_digest, config_digest, manifest_digest;
  std::string Index(const std::string& name = "") const {
    json desc = {{"mediaType", media_type::kOciManifest},
                 {"digest", manifest_digest.str()},
                 {"size", manifest.size()}};
    if (!name.empty()) desc["annotations"] = {{"io.containerd.image.name", name}};
    return json{{"schemaVersion", 2}, {"manifests", json::array({desc})}}.dump();
  }
  std::vector<TarEntry> Blobs() const {
    return {testing::File("blobs/sha256/" + layer_digest.hex(), layer_gz),
            testing::File("blobs/sha256/" + config_digest.hex(), config),
            testing::File("blobs/sha256/" + manifest_digest.hex(), manifest)};
  }
};

ArchiveImage MakeArchiveImage(const std::string& file_content) {
  ArchiveImage a;
  std::string tar = testing::MakeTar({testing::File("hello", file_content)});
  a.layer_gz = testing::Gzip(tar);
  a.layer_digest = Digest::Of(a.layer_gz);
  ImageConfig config;
  config.diff_ids = {Digest::Of(tar)};
  config.cmd = {"/hello"};
  a.config = config.ToJson();
  a.config_digest = Digest::Of(a.config);
  Manifest m;
  m.media_type = media_type::kOciManifest;
  m.config = DescribeContent(media_type::kOciConfig, a.config);
  m.layers = {DescribeContent(media_type::kOciLayerTarGzip, a.layer_gz)};
  a.manifest = SerializeManifest(m);
  a.manifest_digest = Digest::Of(a.manifest);
  return a;
}

std::vector<TarEntry> Concat(std::vector<TarEntry> a, const std::vector<TarEntry>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// --- Round trips ----------------------------------------------------------------

TEST_F(OciArchiveTest, SaveThenLoadIntoAFreshStoreGivesTheSameImage) {
  ImageRecord image = ImportBusybox("busybox:x");
  ASSERT_TRUE(store_->Tag("busybox:x", "localhost:5000/team/app:2").ok());
  std::string archive = Path("images.tar");
  ASSERT_TRUE(SaveOciArchive(*store_, {"busybox:x", "localhost:5000/team/app:2"}, archive).ok());

  auto loaded = LoadOciArchive(Other(), archive);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ASSERT_EQ(loaded->size(), 2u);  // one index entry per name saved
  auto got = Other().Resolve("busybox:x");
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(got->id, image.id);
  EXPECT_EQ(got->manifest_digest, image.manifest_digest);
  EXPECT_EQ(got->manifest_media_type, image.manifest_media_type);
  EXPECT_EQ(got->tags, (std::vector<std::string>{"docker.io/library/busybox:x", "localhost:5000/team/app:2"}));
  ASSERT_EQ(got->layers.size(), 1u);
  EXPECT_EQ(got->layers[0].blob, image.layers[0].blob);
  EXPECT_EQ(got->layers[0].chain_id, image.layers[0].chain_id);
  EXPECT_EQ(Images(Other()).size(), 1u);
  // Every blob arrived intact, and the layer is unpacked.
  for (const Digest& d : OtherParts().content->List())
    EXPECT_TRUE(OtherParts().content->Verify(d).ok()) << d.str();
  auto dirs = Other().LowerDirs(*got);
  ASSERT_TRUE(dirs.ok()) << dirs.status().message();
  EXPECT_TRUE(PathExists((*dirs)[0] + "/bin/busybox"));
}

TEST_F(OciArchiveTest, SavedArchiveIsAnOciLayout) {
  ImageRecord image = ImportBusybox("busybox:x");
  std::string archive = Path("images.tar");
  ASSERT_TRUE(SaveOciArchive(*store_, {"busybox:x"}, archive).ok());
  std::string listing;
  ASSERT_EQ(testing::RunShell("tar -tf " + archive, &listing), 0) << listing;
  for (const Digest& d : {image.manifest_digest, image.id, image.layers[0].blob}) {
    EXPECT_TRUE(Contains(listing, "blobs/sha256/" + d.hex())) << listing;
  }
  EXPECT_TRUE(Contains(listing, "oci-layout"));
  std::string index_text;
  ASSERT_EQ(testing::RunShell("tar -xOf " + archive + " index.json", &index_text), 0);
  json index = json::parse(index_text);
  ASSERT_EQ(index["manifests"].size(), 1u);
  EXPECT_EQ(index["manifests"][0]["digest"], image.manifest_digest.str());
  EXPECT_EQ(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "x");
  EXPECT_EQ(index["manifests"][0]["annotations"]["io.containerd.image.name"], "docker.io/library/busybox:x");
  // Written atomically: no temp file is left next to it.
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_FALSE(Contains(e.path().filename().string(), ".tmp")) << e.path();
  }
}

TEST_F(OciArchiveTest, SaveOfAnUnknownImageFailsAndWritesNoFile) {
  ImportBusybox("busybox:x");
  std::string archive = Path("images.tar");
  Status st = SaveOciArchive(*store_, {"busybox:x", "nothing:1"}, archive);
  EXPECT_EQ(st.code(), Code::kNotFound) << st.message();
  EXPECT_FALSE(PathExists(archive));
  EXPECT_TRUE(FilesOutsideStores().empty());
}

TEST_F(OciArchiveTest, SaveIntoAMissingDirectoryFails) {
  ImportBusybox("busybox:x");
  Status st = SaveOciArchive(*store_, {"busybox:x"}, Path("no/such/dir/images.tar"));
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(PathExists(Path("no")));
}

TEST_F(OciArchiveTest, LoadingTwiceIsIdempotent) {
  ImageRecord image = ImportBusybox("busybox:x");
  std::string archive = Path("images.tar");
  ASSERT_TRUE(SaveOciArchive(*store_, {"busybox:x"}, archive).ok());
  ASSERT_TRUE(LoadOciArchive(Other(), archive).ok());
  auto again = LoadOciArchive(Other(), archive);
  ASSERT_TRUE(again.ok()) << again.status().message();
  ASSERT_EQ(Images(Other()).size(), 1u);
  EXPECT_EQ(Images(Other())[0].id, image.id);
  EXPECT_EQ(OtherParts().snapshots->List().size(), 1u);
}

TEST_F(OciArchiveTest, GzippedArchiveLoads) {
  ImageRecord image = ImportBusybox("busybox:x");
  std::string archive = Path("images.tar");
  ASSERT_TRUE(SaveOciArchive(*store_, {"busybox:x"}, archive).ok());
  std::string out;
  ASSERT_EQ(testing::RunShell("gzip " + archive, &out), 0) << out;
  auto loaded = LoadOciArchive(Other(), archive + ".gz");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(Other().Resolve("busybox:x")->id, image.id);
}

// --- skopeo -----------------------------------------------------------------------

TEST_F(OciArchiveTest, SkopeoReadsOurArchive) {
  ImageRecord image = ImportBusybox("busybox:x");
  std::string archive = Path("images.tar");
  ASSERT_TRUE(SaveOciArchive(*store_, {"busybox:x"}, archive).ok());
  std::string raw = testing::Skopeo("inspect --raw oci-archive:" + archive + ":x");
  EXPECT_EQ(Digest::Of(raw), image.manifest_digest);
  json inspect = json::parse(testing::Skopeo("inspect oci-archive:" + archive + ":x"));
  EXPECT_EQ(inspect["Digest"], image.manifest_digest.str());
  ASSERT_EQ(inspect["Layers"].size(), 1u);
  EXPECT_EQ(inspect["Layers"][0], image.layers[0].blob.str());
  // And copies it out intact: the layer skopeo writes is our blob.
  std::string layout = Path("copied");
  testing::Skopeo("copy oci-archive:" + archive + ":x oci:" + layout + ":x");
  EXPECT_TRUE(PathExists(layout + "/blobs/sha256/" + image.layers[0].blob.hex()));
}

TEST_F(OciArchiveTest, SkopeoWrittenArchiveLoads) {
  testing::TestImage busybox = testing::TestImage::Busybox();
  LayoutGuard guard{busybox.layout_dir};
  std::string archive = Path("skopeo.tar");
  testing::Skopeo("copy oci:" + busybox.layout_dir + ":latest oci-archive:" + archive + ":latest");
  auto loaded = LoadOciArchive(Other(), archive);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ASSERT_EQ(loaded->size(), 1u);
  const ImageRecord& image = (*loaded)[0];
  EXPECT_EQ(image.id, busybox.manifest.config.digest);
  // A bare tag names no repository: the image is loaded without a name.
  EXPECT_TRUE(image.tags.empty());
  auto dirs = Other().LowerDirs(image);
  ASSERT_TRUE(dirs.ok()) << dirs.status().message();
  EXPECT_TRUE(PathExists((*dirs)[0] + "/bin/busybox"));
  // Resolvable by id prefix, as `slipway run <id>` would.
  EXPECT_EQ(Other().Resolve(image.id.hex().substr(0, 12))->id, image.id);
}

TEST_F(OciArchiveTest, SkopeoArchiveWithAFullReferenceIsTagged) {
  testing::TestImage busybox = testing::TestImage::Busybox();
  LayoutGuard guard{busybox.layout_dir};
  std::string archive = Path("skopeo.tar");
  testing::Skopeo("copy oci:" + busybox.layout_dir + ":latest oci-archive:" + archive +
                  ":example.com/team/busybox:1");
  auto loaded = LoadOciArchive(Other(), archive);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  auto image = Other().Resolve("example.com/team/busybox:1");
  ASSERT_TRUE(image.ok()) << image.status().message();
  EXPECT_EQ(image->id, busybox.manifest.config.digest);
}

// --- Hostile and broken archives ----------------------------------------------------

TEST_F(OciArchiveTest, BlobEntryEscapingBlobsDirIsRefused) {
  ArchiveImage a = MakeArchiveImage("hi");
  Status st = LoadMustFail(Concat({testing::File("oci-layout", kLayout), testing::File("index.json", a.Index()),
                                   testing::File("blobs/sha256/../../x", "escaped"),
                                   testing::File("blobs/sha256/../../../x", "escaped")},
                                  a.Blobs()));
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.message();
  EXPECT_TRUE(Contains(st.message(), "../")) << st.message();
  EXPECT_EQ(FilesOutsideStores(), std::vector<std::string>{Path("hostile.tar")});
  for (const std::string& p : testing::ListTree(dir_)) EXPECT_NE(fs::path(p).filename(), "x") << p;
  EXPECT_FALSE(PathExists(fs::path(dir_).parent_path() / "x"));
  EXPECT_FALSE(Other().HasBlob(Digest::Of("escaped")));
}

TEST_F(OciArchiveTest, BlobEntryWithANonHexNameIsRefused) {
  ArchiveImage a = MakeArchiveImage("hi");
  for (const std::string& name : {std::string(64, 'z'), std::string(64, 'A'), std::string("abc"),
                                  a.layer_digest.hex() + "/nested"}) {
    SCOPED_TRACE(name);
    Status st = LoadMustFail({testing::File("oci-layout", kLayout), testing::File("index.json", a.Index()),
                              testing::File("blobs/sha256/" + name, "data")});
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.message();
  }
  EXPECT_TRUE(OtherParts().content->List().empty());
}

TEST_F(OciArchiveTest, BlobEntryOfAnotherAlgorithmIsRefused) {
  ArchiveImage a = MakeArchiveImage("hi");
  Status st = LoadMustFail({testing::File("oci-layout", kLayout), testing::File("index.json", a.Index()),
                            testing::File("blobs/sha512/" + std::string(128, 'a'), "data")});
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.message();
}

TEST_F(OciArchiveTest, BlobWhoseContentDoesNotMatchItsNameIsNotStored) {
  ArchiveImage a = MakeArchiveImage("hi");
  std::vector<TarEntry> entries = {testing::File("oci-layout", kLayout), testing::File("index.json", a.Index())};
  for (TarEntry e : a.Blobs()) {
    if (e.path.ends_with(a.layer_digest.hex())) e.data = testing::Gzip(testing::MakeTar({testing::File("evil", "!")}));
    entries.push_back(e);
  }
  Status st = LoadMustFail(entries);
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.message();
  EXPECT_TRUE(Contains(st.message(), a.layer_digest.str())) << st.message();
  EXPECT_FALSE(Other().HasBlob(a.layer_digest));
  for (const Digest& d : OtherParts().content->List()) EXPECT_TRUE(OtherParts().content->Verify(d).ok());
  EXPECT_TRUE(OtherParts().snapshots->List().empty());
  EXPECT_TRUE(fs::is_empty(dir_ + "/other/content/ingest"));
}

TEST_F(OciArchiveTest, MissingIndexJsonIsAClearError) {
  ArchiveImage a = MakeArchiveImage("hi");
  Status st = LoadMustFail(Concat({testing::File("oci-layout", kLayout)}, a.Blobs()));
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.message();
  EXPECT_TRUE(Contains(st.message(), "index.json")) << st.message();
  EXPECT_TRUE(Contains(st.message(), Path("hostile.tar"))) << st.message();
}

TEST_F(OciArchiveTest, IndexPointingAtAMissingBlobRecordsNoImage) {
  ArchiveImage a = MakeArchiveImage("hi");
  std::vector<TarEntry> blobs = a.Blobs();
  blobs.erase(blobs.begin());  // the layer
  Status st = LoadMustFail(Concat({testing::File("oci-layout", kLayout), testing::File("index.json", a.Index("x:1"))},
                                  blobs));
  EXPECT_EQ(st.code(), Code::kNotFound) << st.message();
  EXPECT_TRUE(Contains(st.message(), a.layer_digest.str())) << st.message();
  EXPECT_EQ(Other().Resolve("x:1").status().code(), Code::kNotFound);
  EXPECT_TRUE(OtherParts().snapshots->List().empty());
}

TEST_F(OciArchiveTest, IndexPointingAtAMissingManifestRecordsNoImage) {
  ArchiveImage a = MakeArchiveImage("hi");
  std::vector<TarEntry> blobs = a.Blobs();
  blobs.pop_back();  // the manifest
  Status st = LoadMustFail(Concat({testing::File("oci-layout", kLayout), testing::File("index.json", a.Index("x:1"))},
                                  blobs));
  EXPECT_EQ(st.code(), Code::kNotFound) << st.message();
  EXPECT_TRUE(Contains(st.message(), a.manifest_digest.str())) << st.message();
}

TEST_F(OciArchiveTest, LayerWhoseDiffIdDoesNotMatchRecordsNoImage) {
  ArchiveImage a = MakeArchiveImage("hi");
  ImageConfig config;
  config.diff_ids = {Digest::Of("something else")};
  std::string config_json = config.ToJson();
  Manifest m;
  m.media_type = media_type::kOciManifest;
  m.config = DescribeContent(media_type::kOciConfig, config_json);
  m.layers = {DescribeContent(media_type::kOciLayerTarGzip, a.layer_gz)};
  a.config = config_json;
  a.config_digest = m.config.digest;
  a.manifest = SerializeManifest(m);
  a.manifest_digest = Digest::Of(a.manifest);
  Status st = LoadMustFail(Concat({testing::File("oci-layout", kLayout), testing::File("index.json", a.Index("x:1"))},
                                  a.Blobs()));
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.message();
  EXPECT_TRUE(fs::is_empty(dir_ + "/other/snapshots"));
}

TEST_F(OciArchiveTest, SymlinkBlobEntryIsNotFollowed) {
  // A "blob" that is a symlink to a host file must not be read as the blob.
  std::string secret = testing::ReadTestFile("/etc/passwd");
  Digest d = Digest::Of(secret);
  ArchiveImage a = MakeArchiveImage("hi");
  std::vector<TarEntry> entries = {testing::File("oci-layout", kLayout), testing::File("index.json", a.Index()),
                                   testing::Symlink("blobs/sha256/" + d.hex(), "/etc/passwd")};
  auto blobs = a.Blobs();
  entries.insert(entries.end(), blobs.begin(), blobs.end());
  std::string path = Path("symlink.tar");
  testing::WriteTestFile(path, testing::MakeTar(entries));
  auto loaded = LoadOciArchive(Other(), path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();  // the image itself is fine
  EXPECT_FALSE(Other().HasBlob(d));
}

TEST_F(OciArchiveTest, NonArchiveFileIsAnError) {
  std::string path = Path("notes.txt");
  testing::WriteTestFile(path, "just some text, no tar here\n");
  auto loaded = LoadOciArchive(Other(), path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_TRUE(Contains(loaded.status().message(), path)) << loaded.status().message();
  EXPECT_TRUE(Images(Other()).empty());
  EXPECT_TRUE(OtherParts().content->List().empty());
}

TEST_F(OciArchiveTest, MalformedIndexJsonIsInvalidArgument) {
  ArchiveImage a = MakeArchiveImage("hi");
  Status st = LoadMustFail(Concat({testing::File("oci-layout", kLayout), testing::File("index.json", "{\"manifests\": [")},
                                  a.Blobs()));
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.message();
  EXPECT_TRUE(Contains(st.message(), "index.json")) << st.message();
}

}  // namespace
}  // namespace slipway
