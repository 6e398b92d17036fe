// ContainerStore: the containers table of slipwayd's SQLite database (the
// same file as the image metadata, <data_dir>/slipway.db, with its own
// migrations). Every call is one transaction; the store is safe to use from
// several threads.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/base/status.h"
#include "engine/containers/container.h"

namespace SQLite {
class Database;
}

namespace slipway {

class ContainerStore {
 public:
  static Result<std::unique_ptr<ContainerStore>> Open(const std::string& db_path);
  ~ContainerStore();

  // kAlreadyExists if the id or the (non-empty) name is taken.
  Status Insert(const Container& c);
  // Replaces the row with c.id; kNotFound if there is none.
  Status Update(const Container& c);
  Status Delete(const std::string& id);  // missing is ok

  Result<Container> Get(const std::string& id) const;
  // By id, by name, or by a unique id prefix of at least 4 hex digits.
  // kNotFound if nothing matches, kInvalidArgument if a prefix is ambiguous.
  Result<Container> Find(const std::string& id_or_name) const;
  // Newest first; with `all` false, only those not in a final state.
  Result<std::vector<Container>> List(bool all) const;

 private:
  explicit ContainerStore(std::unique_ptr<SQLite::Database> db);
  std::unique_ptr<SQLite::Database> db_;
  mutable std::mutex mu_;  // guards db_ and final_cache_
  // Decoded rows in a final state, which never change (List() only).
  mutable std::map<std::string, Container> final_cache_;
};

}  // namespace slipway
