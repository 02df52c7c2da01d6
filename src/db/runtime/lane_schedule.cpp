#include "af/db/lane_schedule.hpp"

#include <algorithm>

namespace af::db {

LaneSchedule::LaneSchedule(std::size_t lanes, Duration hedge_after)
    : lanes_(std::max<std::size_t>(lanes, 1)), hedge_after_(hedge_after) {}

std::optional<std::size_t> LaneSchedule::idle_lane() {
    for (std::size_t i = 0; i < lanes_.size(); ++i) {
        const std::size_t k = (next_ + i) % lanes_.size();
        if (!lanes_[k].busy) {
            next_ = k + 1;
            return k;
        }
    }
    return std::nullopt;
}

std::optional<LaneSchedule::Send> LaneSchedule::request(std::int64_t term, TimePoint now) {
    const auto k = idle_lane();
    if (!k)
        return std::nullopt;
    lanes_[*k] = Lane{true, term, ++seq_, now, false};
    return Send{*k, term};
}

std::optional<LaneSchedule::Send> LaneSchedule::hedge(TimePoint now) {
    Lane* oldest = nullptr;
    for (auto& l : lanes_)
        if (l.busy && !l.hedged && l.request > last_confirmed_ && now >= l.since + hedge_after_ &&
            (!oldest || l.since < oldest->since))
            oldest = &l;
    if (!oldest)
        return std::nullopt;
    const auto k = idle_lane();
    if (!k)
        return std::nullopt;
    oldest->hedged = true;
    // The copy counts as hedged too: a copy of a copy would only add load.
    lanes_[*k] = Lane{true, oldest->term, oldest->request, now, true};
    return Send{*k, oldest->term};
}

TimePoint LaneSchedule::next_hedge() const {
    TimePoint next = TimePoint::max();
    bool idle = false;
    for (const auto& l : lanes_) {
        idle = idle || !l.busy;
        if (l.busy && !l.hedged && l.request > last_confirmed_)
            next = std::min(next, l.since + hedge_after_);
    }
    return idle ? next : TimePoint::max();
}

bool LaneSchedule::done(std::size_t lane, bool ok) {
    Lane& l = lanes_.at(lane);
    const std::uint64_t request = l.request;
    l.busy = false;
    if (ok) {
        last_confirmed_ = std::max(last_confirmed_, request);
        return true;
    }
    if (request <= last_confirmed_)
        return false;
    for (const auto& other : lanes_)
        if (other.busy && other.request == request)
            return false;
    return true;
}

std::size_t LaneSchedule::busy() const {
    return static_cast<std::size_t>(
        std::count_if(lanes_.begin(), lanes_.end(), [](const Lane& l) { return l.busy; }));
}

}  // namespace af::db
