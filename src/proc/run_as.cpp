#include "af/proc/run_as.hpp"

#include <grp.h>
#include <pwd.h>

#include <stdexcept>

namespace af::proc {

namespace {
bool all_digits(const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}
}  // namespace

RunAs resolve_run_as(const std::string& user, const std::optional<std::string>& group) {
    std::vector<char> buf(16384);
    passwd pw{};
    passwd* found = nullptr;
    const int err =
        all_digits(user)
            ? getpwuid_r(static_cast<uid_t>(std::stoul(user)), &pw, buf.data(), buf.size(), &found)
            : getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
    if (err != 0 || !found)
        throw std::runtime_error("unknown user '" + user + "'");
    RunAs r;
    r.uid = pw.pw_uid;
    r.gid = pw.pw_gid;
    r.user = pw.pw_name;
    r.home = pw.pw_dir ? pw.pw_dir : "/";
    if (group) {
        std::vector<char> gbuf(16384);
        struct group gr {};
        struct group* g = nullptr;
        const int gerr = all_digits(*group)
                             ? getgrgid_r(static_cast<gid_t>(std::stoul(*group)), &gr, gbuf.data(),
                                          gbuf.size(), &g)
                             : getgrnam_r(group->c_str(), &gr, gbuf.data(), gbuf.size(), &g);
        if (gerr != 0 || !g)
            throw std::runtime_error("unknown group '" + *group + "'");
        r.gid = gr.gr_gid;
    }
    int n = 32;
    std::vector<gid_t> groups(static_cast<std::size_t>(n));
    while (getgrouplist(r.user.c_str(), r.gid, groups.data(), &n) < 0) {
        groups.resize(static_cast<std::size_t>(n) + 32);
        n = static_cast<int>(groups.size());
    }
    groups.resize(static_cast<std::size_t>(n));
    r.groups = std::move(groups);
    return r;
}

}  // namespace af::proc
