#include "engine/containers/container_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "engine/base/ascii.h"
#include "engine/base/database.h"
#include "engine/runtime/spec_json.h"

namespace slipway {

namespace {

// This module's name in the database's schema_versions table.
constexpr char kComponent[] = "containers";

// Each entry moves the schema from version i to i + 1. Never edit a shipped
// entry; append a new one.
const char* const kMigrations[] = {
    R"sql(
    CREATE TABLE containers (
      id TEXT PRIMARY KEY,
      name TEXT UNIQUE,
      state TEXT NOT NULL,
      request_json TEXT NOT NULL,
      image_id TEXT NOT NULL,
      spec_json TEXT NOT NULL,
      sandbox_id TEXT NOT NULL,
      pid INTEGER NOT NULL,
      created_unix_ms INTEGER NOT NULL,
      started_unix_ms INTEGER NOT NULL,
      finished_unix_ms INTEGER NOT NULL,
      result_json TEXT,
      error TEXT NOT NULL
    );
    CREATE INDEX containers_created ON containers(created_unix_ms);
    )sql",
    // Containers made by the engine's own callers (build steps).
    R"sql(
    ALTER TABLE containers ADD COLUMN labels_json TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE containers ADD COLUMN ends_with_caller INTEGER NOT NULL DEFAULT 0;
    )sql",
};

// The shortest id prefix Find() accepts: shorter ones match too much by chance.
constexpr size_t kMinPrefix = 4;

constexpr char kColumns[] =
    "id, name, state, request_json, image_id, spec_json, sandbox_id, pid, created_unix_ms, started_unix_ms, "
    "finished_unix_ms, result_json, error, labels_json, ends_with_caller";

Status DbError(SQLite::Database& db, const std::exception& e, const std::string& what) {
  return DatabaseError(db, "container store: " + what, e);
}

// Binds every column but id, in kColumns order from index `first` (name
// first), so that INSERT and UPDATE share it.
void BindFields(SQLite::Statement& q, int first, const Container& c, const std::string& request_json,
                const std::string& spec_json) {
  int i = first;
  if (c.name.empty()) {
    q.bind(i++);  // NULL: unnamed containers do not collide in the UNIQUE index
  } else {
    q.bind(i++, c.name);
  }
  q.bind(i++, ContainerStateName(c.state));
  q.bind(i++, request_json);
  q.bind(i++, c.image_id);
  q.bind(i++, spec_json);
  q.bind(i++, c.sandbox_id);
  q.bind(i++, static_cast<int64_t>(c.pid));
  q.bind(i++, c.created_unix_ms);
  q.bind(i++, c.started_unix_ms);
  q.bind(i++, c.finished_unix_ms);
  if (c.result) {
    q.bind(i++, c.result->ToJson());
  } else {
    q.bind(i++);
  }
  q.bind(i++, c.error);
  q.bind(i++, nlohmann::json(c.labels).dump());
  q.bind(i++, c.ends_with_caller ? 1 : 0);
}

// The request and spec as stored, refusing what could not be read back: a
// row that fails to decode would make the container unmanageable.
Status Encode(const Container& c, std::string* request_json, std::string* spec_json) {
  // Values to mask are secrets: they belong to a launch's copy of the spec
  // (ContainerService, in memory), never to a stored row.
  if (!c.spec.masked_values.empty()) {
    return InvalidArgument("container " + c.id +
                           ": a stored spec cannot carry masked_values (give secrets as secret_env)");
  }
  *request_json = c.request.ToJson();
  if (auto r = CreateRequest::FromJson(*request_json); !r.ok()) {
    return InvalidArgument("container " + c.id + ": request: " + r.status().message());
  }
  *spec_json = SpecToJson(c.spec);
  if (auto s = SpecFromJson(*spec_json); !s.ok()) {
    return InvalidArgument("container " + c.id + ": spec: " + s.status().message());
  }
  return Status::Ok();
}

// A constraint failure on insert or update: which of id and name is taken.
Status ConflictError(const SQLite::Exception& e, const Container& c) {
  if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return AlreadyExists("container id " + c.id + " is already in use");
  }
  return AlreadyExists("container name \"" + c.name + "\" is already in use");
}

bool IsConflict(const SQLite::Exception& e) {
  return e.getExtendedErrorCode() == SQLITE_CONSTRAINT_PRIMARYKEY ||
         e.getExtendedErrorCode() == SQLITE_CONSTRAINT_UNIQUE;
}

// One row, selected with kColumns. kInternal if a stored field is unreadable.
Result<Container> RowToContainer(SQLite::Statement& q) {
  Container c;
  c.id = q.getColumn(0).getString();
  c.name = q.getColumn(1).isNull() ? "" : q.getColumn(1).getString();
  auto corrupt = [&](const std::string& what, const Status& st) {
    return Internal("container " + c.id + ": stored " + what + " is unreadable: " + st.message());
  };
  auto state = ParseContainerState(q.getColumn(2).getString());
  if (!state.ok()) return corrupt("state", state.status());
  c.state = *state;
  auto request = CreateRequest::FromJson(q.getColumn(3).getString());
  if (!request.ok()) return corrupt("request", request.status());
  c.request = std::move(request).value();
  c.image_id = q.getColumn(4).getString();
  auto spec = SpecFromJson(q.getColumn(5).getString());
  if (!spec.ok()) return corrupt("spec", spec.status());
  c.spec = std::move(spec).value();
  c.sandbox_id = q.getColumn(6).getString();
  c.pid = static_cast<pid_t>(q.getColumn(7).getInt64());
  c.created_unix_ms = q.getColumn(8).getInt64();
  c.started_unix_ms = q.getColumn(9).getInt64();
  c.finished_unix_ms = q.getColumn(10).getInt64();
  if (!q.getColumn(11).isNull()) {
    auto result = SandboxResult::FromJson(q.getColumn(11).getString());
    if (!result.ok()) return corrupt("result", result.status());
    c.result = *result;
  }
  c.error = q.getColumn(12).getString();
  try {
    c.labels = nlohmann::json::parse(q.getColumn(13).getString()).get<std::map<std::string, std::string>>();
  } catch (const nlohmann::json::exception& e) {
    return corrupt("labels", Internal(e.what()));
  }
  c.ends_with_caller = q.getColumn(14).getInt() != 0;
  return c;
}

// Every row `q` yields.
Result<std::vector<Container>> ReadRows(SQLite::Statement& q) {
  std::vector<Container> out;
  while (q.executeStep()) {
    SLIPWAY_ASSIGN_OR_RETURN(Container c, RowToContainer(q));
    out.push_back(std::move(c));
  }
  return out;
}

// Rows where `column` equals `value` (at most one for id and name).
Result<std::vector<Container>> SelectWhere(SQLite::Database& db, const char* column,
                                           const std::string& value) {
  SQLite::Statement q(db, std::string("SELECT ") + kColumns + " FROM containers WHERE " + column + " = ?");
  q.bind(1, value);
  return ReadRows(q);
}

// "'exited', 'failed', 'lost'": the names of the final states, for SQL, from
// IsFinal() so that the two cannot disagree.
std::string FinalStateList() {
  std::string out;
  for (int i = 0; i <= static_cast<int>(ContainerState::kLost); ++i) {
    auto s = static_cast<ContainerState>(i);
    if (!IsFinal(s)) continue;
    out += std::string(out.empty() ? "'" : ", '") + ContainerStateName(s) + "'";
  }
  return out;
}

}  // namespace

ContainerStore::ContainerStore(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}
ContainerStore::~ContainerStore() = default;

Result<std::unique_ptr<ContainerStore>> ContainerStore::Open(const std::string& db_path) {
  SLIPWAY_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path));
  SLIPWAY_RETURN_IF_ERROR(Migrate(*db, kComponent, kMigrations));
  return std::unique_ptr<ContainerStore>(new ContainerStore(std::move(db)));
}

Status ContainerStore::Insert(const Container& c) {
  std::string request_json, spec_json;
  SLIPWAY_RETURN_IF_ERROR(Encode(c, &request_json, &spec_json));
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Statement q(*db_, std::string("INSERT INTO containers (") + kColumns +
                                  ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, c.id);
    BindFields(q, 2, c, request_json, spec_json);
    q.exec();
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    if (IsConflict(e)) return ConflictError(e, c);
    return DbError(*db_, e, "insert " + c.id);
  } catch (const std::exception& e) {
    return DbError(*db_, e, "insert " + c.id);
  }
}

Status ContainerStore::Update(const Container& c) {
  std::string request_json, spec_json;
  SLIPWAY_RETURN_IF_ERROR(Encode(c, &request_json, &spec_json));
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Statement q(
        *db_,
        "UPDATE containers SET name = ?, state = ?, request_json = ?, image_id = ?, spec_json = ?, "
        "sandbox_id = ?, pid = ?, created_unix_ms = ?, started_unix_ms = ?, finished_unix_ms = ?, "
        "result_json = ?, error = ?, labels_json = ?, ends_with_caller = ? WHERE id = ?");
    BindFields(q, 1, c, request_json, spec_json);
    q.bind(15, c.id);
    final_cache_.erase(c.id);
    if (q.exec() == 0) return NotFound("no such container: " + c.id);
    return Status::Ok();
  } catch (const SQLite::Exception& e) {
    if (IsConflict(e)) return ConflictError(e, c);
    return DbError(*db_, e, "update " + c.id);
  } catch (const std::exception& e) {
    return DbError(*db_, e, "update " + c.id);
  }
}

Status ContainerStore::Delete(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Statement q(*db_, "DELETE FROM containers WHERE id = ?");
    q.bind(1, id);
    final_cache_.erase(id);
    q.exec();
    return Status::Ok();
  } catch (const std::exception& e) {
    return DbError(*db_, e, "delete " + id);
  }
}

Result<Container> ContainerStore::Get(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SLIPWAY_ASSIGN_OR_RETURN(auto rows, SelectWhere(*db_, "id", id));
    if (rows.empty()) return NotFound("no such container: " + id);
    return std::move(rows.front());
  } catch (const std::exception& e) {
    return DbError(*db_, e, "get " + id);
  }
}

Result<Container> ContainerStore::Find(const std::string& id_or_name) const {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    // One read transaction: the three lookups see the same snapshot.
    SQLite::Transaction tx(*db_);
    SLIPWAY_ASSIGN_OR_RETURN(auto rows, SelectWhere(*db_, "id", id_or_name));
    if (rows.empty() && !id_or_name.empty()) {
      SLIPWAY_ASSIGN_OR_RETURN(rows, SelectWhere(*db_, "name", id_or_name));
    }
    if (rows.empty() && id_or_name.size() >= kMinPrefix && IsLowerHex(id_or_name)) {
      // substr rather than LIKE: no wildcard characters to escape, and the
      // input is checked to be hex anyway.
      SQLite::Statement q(*db_, std::string("SELECT ") + kColumns +
                                    " FROM containers WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 2");
      q.bind(1, static_cast<int>(id_or_name.size()));
      q.bind(2, id_or_name);
      SLIPWAY_ASSIGN_OR_RETURN(rows, ReadRows(q));
      if (rows.size() > 1) {
        return InvalidArgument("container id prefix " + id_or_name +
                               " is ambiguous: it matches more than one container");
      }
    }
    tx.commit();
    if (rows.empty()) return NotFound("no such container: " + id_or_name);
    return std::move(rows.front());
  } catch (const std::exception& e) {
    return DbError(*db_, e, "find " + id_or_name);
  }
}

Result<std::vector<Container>> ContainerStore::List(bool all) const {
  std::string sql = std::string("SELECT ") + kColumns + " FROM containers";
  if (!all) sql += " WHERE state NOT IN (" + FinalStateList() + ")";
  // rowid breaks ties between containers created in the same millisecond:
  // the one inserted last is the newest.
  sql += " ORDER BY created_unix_ms DESC, rowid DESC";
  std::lock_guard<std::mutex> lock(mu_);
  try {
    SQLite::Statement q(*db_, sql);
    std::vector<Container> out;
    while (q.executeStep()) {
      // Decoding a row's JSON is most of a listing's cost, and a container in
      // a final state never changes again: decode it once.
      auto state = ParseContainerState(q.getColumn(2).getString());
      std::string id = q.getColumn(0).getString();
      auto cached = final_cache_.find(id);
      if (state.ok() && IsFinal(*state) && cached != final_cache_.end()) {
        out.push_back(cached->second);
        continue;
      }
      SLIPWAY_ASSIGN_OR_RETURN(Container c, RowToContainer(q));
      if (IsFinal(c.state)) final_cache_[id] = c;
      out.push_back(std::move(c));
    }
    return out;
  } catch (const std::exception& e) {
    return DbError(*db_, e, "list");
  }
}

}  // namespace slipway
