#pragma once

// Reading a Ready in the core's tests: the actions of one type, and whether a record was made.
#include <string>
#include <variant>
#include <vector>

#include "af/core/election.hpp"

namespace af::test {

template <class T>
std::vector<T> all(const core::Ready& r) {
    std::vector<T> out;
    for (const auto& a : r.actions)
        if (const auto* x = std::get_if<T>(&a))
            out.push_back(*x);
    return out;
}

inline bool has_record(const core::Ready& r, const std::string& kind) {
    for (const auto& x : all<core::act::record>(r))
        if (x.kind == kind)
            return true;
    return false;
}

}  // namespace af::test
