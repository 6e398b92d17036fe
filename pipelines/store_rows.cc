#include "pipelines/store_rows.h"

#include <SQLiteCpp/SQLiteCpp.h>

namespace slipway::pipelines {

std::string RepoName(const std::string& name) {
  return "repository " + name;
}

std::string RunName(int64_t id) {
  return "run " + std::to_string(id);
}

bool RepoExists(SQLite::Database& db, const std::string& name) {
  SQLite::Statement q(db, "SELECT 1 FROM repositories WHERE name = ?");
  q.bind(1, name);
  return q.executeStep();
}

bool RunExists(SQLite::Database& db, int64_t id) {
  SQLite::Statement q(db, "SELECT 1 FROM runs WHERE id = ?");
  q.bind(1, id);
  return q.executeStep();
}

}  // namespace slipway::pipelines
