#include "engine/image/metadata.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <stdexcept>

#include "engine/base/ascii.h"
#include "engine/base/database.h"

namespace slipway {

namespace {

// This module's name in the database's schema_versions table.
constexpr char kComponent[] = "images";

// Each entry moves the schema from version i to i + 1. Never edit a shipped
// entry; append a new one.
const char* const kMigrations[] = {
    R"sql(
    CREATE TABLE images (
      id TEXT PRIMARY KEY,
      manifest_digest TEXT NOT NULL,
      manifest_media_type TEXT NOT NULL,
      created_unix_ms INTEGER NOT NULL
    );
    CREATE TABLE image_layers (
      image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
      position INTEGER NOT NULL,
      blob_digest TEXT NOT NULL,
      media_type TEXT NOT NULL,
      size INTEGER NOT NULL,
      diff_id TEXT NOT NULL,
      chain_id TEXT NOT NULL,
      PRIMARY KEY (image_id, position)
    );
    CREATE INDEX image_layers_chain ON image_layers(chain_id);
    CREATE TABLE tags (
      name TEXT PRIMARY KEY,
      image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
    );
    CREATE INDEX tags_image ON tags(image_id);
    )sql",
};

Status DbError(SQLite::Database& db, const std::exception& e, const std::string& what) {
  return DatabaseError(db, "image metadata: " + what, e);
}

Digest MustDigest(const std::string& text) {
  auto d = Digest::Parse(text);
  return d.ok() ? *d : Digest();
}

}  // namespace

int64_t ImageRecord::Size() const {
  int64_t total = 0;
  for (const auto& l : layers) total += l.size;
  return total;
}

Metadata::Metadata(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
Metadata::~Metadata() = default;

Result<std::unique_ptr<Metadata>> Metadata::Open(const std::string& path) {
  SLIPWAY_ASSIGN_OR_RETURN(auto db, OpenDatabase(path));
  std::unique_ptr<Metadata> m(new Metadata(std::move(db)));
  SLIPWAY_RETURN_IF_ERROR(m->Migrate());
  return m;
}

// -1 if the version cannot be read (Open() has read it once already).
int Metadata::SchemaVersion() const {
  auto v = slipway::SchemaVersion(*db_, kComponent);
  return v.ok() ? *v : -1;
}

Status Metadata::Migrate() {
  return slipway::Migrate(*db_, kComponent, kMigrations);
}

Status Metadata::PutImage(const ImageRecord& image) {
  try {
    SQLite::Transaction tx(*db_);
    SQLite::Statement up(
        *db_,
        "INSERT INTO images (id, manifest_digest, manifest_media_type, created_unix_ms) "
        "VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest, "
        "manifest_media_type = excluded.manifest_media_type");
    up.bind(1, image.id.str());
    up.bind(2, image.manifest_digest.str());
    up.bind(3, image.manifest_media_type);
    up.bind(4, static_cast<int64_t>(image.created_unix_ms));
    up.exec();
    SQLite::Statement del(*db_, "DELETE FROM image_layers WHERE image_id = ?");
    del.bind(1, image.id.str());
    del.exec();
    SQLite::Statement ins(*db_, "INSERT INTO image_layers VALUES (?, ?, ?, ?, ?, ?, ?)");
    for (size_t i = 0; i < image.layers.size(); ++i) {
      const LayerRecord& l = image.layers[i];
      ins.bind(1, image.id.str());
      ins.bind(2, static_cast<int64_t>(i));
      ins.bind(3, l.blob.str());
      ins.bind(4, l.media_type);
      ins.bind(5, static_cast<int64_t>(l.size));
      ins.bind(6, l.diff_id.str());
      ins.bind(7, l.chain_id.str());
      ins.exec();
      ins.reset();
    }
    tx.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return DbError(*db_, e, "put image " + image.id.str());
  }
}

Result<ImageRecord> Metadata::GetImage(const Digest& id) const {
  try {
    SQLite::Statement q(
        *db_, "SELECT manifest_digest, manifest_media_type, created_unix_ms FROM images WHERE id = ?");
    q.bind(1, id.str());
    if (!q.executeStep()) return NotFound("no such image: " + id.str());
    ImageRecord r;
    r.id = id;
    r.manifest_digest = MustDigest(q.getColumn(0).getString());
    r.manifest_media_type = q.getColumn(1).getString();
    r.created_unix_ms = q.getColumn(2).getInt64();
    SQLite::Statement layers(*db_,
                             "SELECT blob_digest, media_type, size, diff_id, chain_id FROM image_layers "
                             "WHERE image_id = ? ORDER BY position");
    layers.bind(1, id.str());
    while (layers.executeStep()) {
      r.layers.push_back({MustDigest(layers.getColumn(0).getString()), layers.getColumn(1).getString(),
                          layers.getColumn(2).getInt64(), MustDigest(layers.getColumn(3).getString()),
                          MustDigest(layers.getColumn(4).getString())});
    }
    SQLite::Statement tags(*db_, "SELECT name FROM tags WHERE image_id = ? ORDER BY name");
    tags.bind(1, id.str());
    while (tags.executeStep()) r.tags.push_back(tags.getColumn(0).getString());
    return r;
  } catch (const std::exception& e) {
    return DbError(*db_, e, "get image " + id.str());
  }
}

Result<std::vector<ImageRecord>> Metadata::ListImages() const {
  std::vector<Digest> ids;
  try {
    SQLite::Statement q(*db_, "SELECT id FROM images ORDER BY created_unix_ms DESC, id");
    while (q.executeStep()) ids.push_back(MustDigest(q.getColumn(0).getString()));
  } catch (const std::exception& e) {
    return DbError(*db_, e, "list images");
  }
  std::vector<ImageRecord> out;
  for (const auto& id : ids) {
    SLIPWAY_ASSIGN_OR_RETURN(ImageRecord r, GetImage(id));
    out.push_back(std::move(r));
  }
  return out;
}

Status Metadata::DeleteImage(const Digest& id) {
  try {
    SQLite::Statement q(*db_, "DELETE FROM images WHERE id = ?");
    q.bind(1, id.str());
    if (q.exec() == 0) return NotFound("no such image: " + id.str());
    return Status::Ok();
  } catch (const std::exception& e) {
    return DbError(*db_, e, "delete image " + id.str());
  }
}

Status Metadata::Tag(const std::string& name, const Digest& image_id) {
  try {
    SQLite::Statement q(*db_,
                        "INSERT INTO tags (name, image_id) VALUES (?, ?) "
                        "ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id");
    q.bind(1, name);
    q.bind(2, image_id.str());
    q.exec();
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_FOREIGNKEY)
      return NotFound("no such image: " + image_id.str());
    return DbError(*db_, e, "tag " + name);
  } catch (const std::exception& e) {
    return DbError(*db_, e, "tag " + name);
  }
}

Status Metadata::Untag(const std::string& name) {
  try {
    SQLite::Statement q(*db_, "DELETE FROM tags WHERE name = ?");
    q.bind(1, name);
    if (q.exec() == 0) return NotFound("no such image: " + name);
    return Status::Ok();
  } catch (const std::exception& e) {
    return DbError(*db_, e, "untag " + name);
  }
}

Result<std::optional<Digest>> Metadata::LookupTag(const std::string& name) const {
  try {
    SQLite::Statement q(*db_, "SELECT image_id FROM tags WHERE name = ?");
    q.bind(1, name);
    if (!q.executeStep()) return std::optional<Digest>();
    return std::optional<Digest>(MustDigest(q.getColumn(0).getString()));
  } catch (const std::exception& e) {
    return DbError(*db_, e, "look up " + name);
  }
}

Result<std::vector<Digest>> Metadata::FindByIdPrefix(const std::string& hex_prefix) const {
  std::vector<Digest> out;
  if (!IsLowerHex(hex_prefix)) return out;
  try {
    SQLite::Statement q(*db_, "SELECT id FROM images WHERE substr(id, 8, ?) = ?");
    q.bind(1, static_cast<int>(hex_prefix.size()));
    q.bind(2, hex_prefix);
    while (q.executeStep()) out.push_back(MustDigest(q.getColumn(0).getString()));
    return out;
  } catch (const std::exception& e) {
    return DbError(*db_, e, "find image " + hex_prefix);
  }
}

Result<std::set<Digest>> Metadata::ReferencedBlobs() const {
  std::set<Digest> out;
  try {
    SQLite::Statement q(*db_,
                        "SELECT id FROM images UNION SELECT manifest_digest FROM images "
                        "UNION SELECT blob_digest FROM image_layers");
    while (q.executeStep()) out.insert(MustDigest(q.getColumn(0).getString()));
    return out;
  } catch (const std::exception& e) {
    return DbError(*db_, e, "referenced blobs");
  }
}

Result<std::set<Digest>> Metadata::ReferencedSnapshots() const {
  std::set<Digest> out;
  try {
    SQLite::Statement q(*db_, "SELECT DISTINCT chain_id FROM image_layers");
    while (q.executeStep()) out.insert(MustDigest(q.getColumn(0).getString()));
    return out;
  } catch (const std::exception& e) {
    return DbError(*db_, e, "referenced snapshots");
  }
}

}  // namespace slipway
