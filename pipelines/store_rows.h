// What the SQLite stores of the CI (runs, tests, promotions) share about the
// rows of the "pipelines" component: the names their errors give a
// repository and a run, and whether one exists. Internal to pipelines/.
#pragma once

#include <cstdint>
#include <string>

namespace SQLite {
class Database;
}

namespace slipway::pipelines {

// "repository app", "run 12": how errors name them.
std::string RepoName(const std::string& name);
std::string RunName(int64_t id);

// Whether the repositories (runs) table has that row; throws what SQLiteCpp
// throws, for the caller's SLIPWAY_DB_CATCH.
bool RepoExists(SQLite::Database& db, const std::string& name);
bool RunExists(SQLite::Database& db, int64_t id);

}  // namespace slipway::pipelines
