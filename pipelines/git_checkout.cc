#include "pipelines/git_checkout.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <deque>

#include "engine/base/ascii.h"
#include "engine/base/fd.h"
#include "engine/base/fs.h"
#include "engine/base/openat2.h"
#include "pipelines/libgit2.h"

namespace slipway::pipelines {

namespace {

// A tree entry's name is one path component chosen by the attacker. git
// itself refuses these on checkout (verify_path); so do we, on every
// platform: ".git" in any case would let a repository plant hooks or config
// for whoever runs git in the workspace.
Status CheckName(const std::string& name, const std::string& parent) {
  std::string where = parent.empty() ? "the root" : "\"" + parent + "\"";
  if (name.empty() || name == "." || name == ".." || Lower(name) == ".git" ||
      name.find('/') != std::string::npos || name.find('\0') != std::string::npos) {
    return InvalidArgument("refusing tree entry \"" + name + "\" in " + where);
  }
  return Status::Ok();
}

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

class TreeWriter {
 public:
  TreeWriter(git_repository* repo, const git_oid& commit, int root_fd, std::string root)
      : repo_(repo), commit_(commit), root_fd_(root_fd), root_(std::move(root)) {}

  Status Write(const git_oid& tree) {
    // Breadth first with one open directory at a time: a tree nested
    // thousands deep costs neither stack nor descriptors (a path too long
    // for the kernel is an error, ENAMETOOLONG).
    std::deque<std::pair<git_oid, std::string>> pending{{tree, ""}};
    while (!pending.empty()) {
      auto [oid, rel] = pending.front();
      pending.pop_front();
      SLIPWAY_RETURN_IF_ERROR(WriteDir(oid, rel, &pending));
    }
    return Status::Ok();
  }

  CheckoutResult& result() { return result_; }

 private:
  Status WriteDir(const git_oid& oid, const std::string& rel,
                  std::deque<std::pair<git_oid, std::string>>* pending) {
    git_tree* raw = nullptr;
    if (git_tree_lookup(&raw, repo_, &oid) != 0) {
      return Internal("read tree \"" + rel + "\": " + GitErrorMessage());
    }
    GitTree tree(raw);
    UniqueFd dir(rel.empty() ? ::fcntl(root_fd_, F_DUPFD_CLOEXEC, 0)
                             : Openat2(root_fd_, rel.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0,
                                       RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS));
    if (!dir) return ErrnoStatus("open " + Join(root_, rel));
    for (size_t i = 0, n = git_tree_entrycount(tree.get()); i < n; ++i) {
      const git_tree_entry* entry = git_tree_entry_byindex(tree.get(), i);
      std::string name = git_tree_entry_name(entry);
      SLIPWAY_RETURN_IF_ERROR(CheckName(name, rel));
      std::string path = Join(rel, name);
      switch (git_tree_entry_filemode(entry)) {
        case GIT_FILEMODE_TREE:
          // EEXIST: a second entry of this name (a symlink "x" and a tree
          // "x" is how a hostile tree would write through a symlink).
          if (::mkdirat(dir.get(), name.c_str(), 0755) != 0) return Fail("mkdir", path);
          if (::fchmodat(dir.get(), name.c_str(), 0755, AT_SYMLINK_NOFOLLOW) != 0 && errno != ENOTSUP) {
            return Fail("chmod", path);
          }
          pending->emplace_back(*git_tree_entry_id(entry), path);
          break;
        case GIT_FILEMODE_BLOB:
        case GIT_FILEMODE_BLOB_EXECUTABLE:
          SLIPWAY_RETURN_IF_ERROR(WriteFile(dir.get(), entry, name, path));
          break;
        case GIT_FILEMODE_LINK: SLIPWAY_RETURN_IF_ERROR(WriteSymlink(dir.get(), entry, name, path)); break;
        case GIT_FILEMODE_COMMIT: result_.skipped_submodules.push_back(path); break;
        default:
          return InvalidArgument("tree entry \"" + path + "\" has an unknown mode " +
                                 std::to_string(git_tree_entry_filemode_raw(entry)));
      }
    }
    return Status::Ok();
  }

  Status WriteFile(int dir, const git_tree_entry* entry, const std::string& name, const std::string& path) {
    SLIPWAY_ASSIGN_OR_RETURN(GitBlob blob, LookupBlob(entry, path));
    git_blob_filter_options opts = GIT_BLOB_FILTER_OPTIONS_INIT;
    opts.flags |= GIT_BLOB_FILTER_NO_SYSTEM_ATTRIBUTES | GIT_BLOB_FILTER_ATTRIBUTES_FROM_COMMIT;
    git_oid_cpy(&opts.attr_commit_id, &commit_);
    git_buf content = GIT_BUF_INIT;
    if (git_blob_filter(&content, blob.get(), path.c_str(), &opts) != 0) {
      git_buf_dispose(&content);
      return Internal("filter \"" + path + "\": " + GitErrorMessage());
    }
    // O_EXCL: never through an existing name, symlink or not.
    UniqueFd fd(::openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    Status st = fd ? WriteAll(fd.get(), std::string_view(content.ptr, content.size), Join(root_, path))
                   : Fail("create", path);
    git_buf_dispose(&content);
    SLIPWAY_RETURN_IF_ERROR(st);
    mode_t mode = git_tree_entry_filemode(entry) == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644;
    if (::fchmod(fd.get(), mode) != 0) return Fail("chmod", path);
    ++result_.files;
    return Status::Ok();
  }

  Status WriteSymlink(int dir, const git_tree_entry* entry, const std::string& name,
                      const std::string& path) {
    SLIPWAY_ASSIGN_OR_RETURN(GitBlob blob, LookupBlob(entry, path));
    std::string target(static_cast<const char*>(git_blob_rawcontent(blob.get())),
                       static_cast<size_t>(git_blob_rawsize(blob.get())));
    if (target.empty() || target.find('\0') != std::string::npos) {
      return InvalidArgument("symlink \"" + path + "\" has an empty target or one holding a NUL byte");
    }
    if (::symlinkat(target.c_str(), dir, name.c_str()) != 0) return Fail("symlink", path);
    ++result_.files;
    return Status::Ok();
  }

  Result<GitBlob> LookupBlob(const git_tree_entry* entry, const std::string& path) {
    git_blob* raw = nullptr;
    if (git_blob_lookup(&raw, repo_, git_tree_entry_id(entry)) != 0) {
      return Internal("read blob of \"" + path + "\": " + GitErrorMessage());
    }
    return GitBlob(raw);
  }

  Status Fail(const std::string& call, const std::string& path) {
    if (errno == EEXIST) return InvalidArgument("tree has two entries named \"" + path + "\"");
    return FileErrnoStatus(errno, call + " " + Join(root_, path), root_);
  }

  git_repository* repo_;
  git_oid commit_;
  int root_fd_;
  std::string root_;
  CheckoutResult result_;
};

}  // namespace

Result<CheckoutResult> CheckoutTree(git_repository* repo, const git_oid& commit,
                                    const std::string& workspace) {
  const std::string context = "check out " + OidHex(commit) + " into " + workspace;
  struct stat st;
  if (::lstat(workspace.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode) || !ListDir(workspace).empty()) {
      return FailedPrecondition(context + ": the workspace exists and is not an empty directory");
    }
  } else if (errno != ENOENT) {
    return ErrnoStatus("stat " + workspace).Wrap(context);
  }
  git_commit* raw = nullptr;
  if (git_commit_lookup(&raw, repo, &commit) != 0) return NotFound(context + ": " + GitErrorMessage());
  GitCommit c(raw);

  // Written beside the workspace, renamed into place when complete: a
  // failure (or a crash) leaves no half-written workspace.
  std::string tmp = workspace + ".tmp-" + RandomHex(8);
  if (::mkdir(tmp.c_str(), 0700) != 0) return ErrnoStatus("mkdir " + tmp).Wrap(context);
  auto fail = [&](const Status& s) {
    Status rm = RemoveTree(tmp);
    Status out = s.Wrap(context);
    if (!rm.ok())
      out = Status(out.code(), out.message() + " (and removing " + tmp + ": " + rm.message() + ")");
    return out;
  };
  UniqueFd root(::open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root) return fail(ErrnoStatus("open " + tmp));
  TreeWriter writer(repo, commit, root.get(), workspace);
  Status written = writer.Write(*git_commit_tree_id(c.get()));
  if (!written.ok()) return fail(written);
  if (::fchmod(root.get(), 0755) != 0) return fail(ErrnoStatus("chmod " + tmp));
  // rename(2) replaces an empty directory and refuses a non-empty one.
  if (::rename(tmp.c_str(), workspace.c_str()) != 0) {
    return fail(ErrnoStatus("rename " + tmp + " to " + workspace));
  }
  return std::move(writer.result());
}

}  // namespace slipway::pipelines
