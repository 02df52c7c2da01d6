// The database connections' job queue: priorities, order, merging, bounds, due times, stopping.
// Pure logic, the time passed in; the jobs are the main connection's own (db_jobs.hpp), so the
// priorities checked are the ones DbWorker runs with.
#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "fake_time.hpp"

#include "af/db/db_jobs.hpp"
#include "af/db/job_queue.hpp"

namespace {

using namespace std::chrono_literals;
using af::TimePoint;
using af::db::JobPolicy;
using af::db::JobQueue;
using af::db::Merge;
using af::test::t;
namespace job = af::db::job;

using MainQueue = job::Inbox::Queue;

/// What a popped job is, as a short name (the test's own spelling, not the code's).
std::string name(const MainQueue::Job& j) {
    if (const auto* a = std::get_if<job::Acquire>(&j))
        return "acquire:" + std::to_string(a->min_term);
    if (const auto* r = std::get_if<job::Release>(&j))
        return "release:" + std::to_string(r->term);
    if (const auto* p = std::get_if<job::Publish>(&j))
        return "publish:" + p->report.state;
    if (const auto* f = std::get_if<job::FinishCommand>(&j))
        return "finish:" + std::to_string(f->id);
    if (std::holds_alternative<job::CheckPause>(j))
        return "pause?";
    if (std::holds_alternative<job::CheckCommands>(j))
        return "commands?";
    return "record:" + std::get<job::Record>(j).kind;
}

std::vector<std::string> drain(MainQueue& q, TimePoint now, bool stopping = false) {
    std::vector<std::string> out;
    while (auto j = q.pop(now, stopping))
        out.push_back(name(*j));
    return out;
}

af::db::NodeReport report(std::string state) {
    af::db::NodeReport r;
    r.state = std::move(state);
    return r;
}

TEST(JobQueue, LeaseFirstThenReportThenCommandResultsThenPollsThenTheLog) {
    MainQueue q;
    q.push(job::Record{"a", "", 1});
    q.push(job::CheckPause{});
    q.push(job::FinishCommand{9, "done"});
    q.push(job::Publish{report("up")});
    q.push(job::Release{4, ""});
    EXPECT_EQ(drain(q, t(0)), (std::vector<std::string>{"release:4", "publish:up", "finish:9",
                                                        "pause?", "record:a"}));
    EXPECT_TRUE(q.empty());
}

TEST(JobQueue, LeaseRequestsKeepTheirOrderAcrossKinds) {
    // An acquire queued after a release must not overtake it (nor the other way round).
    MainQueue q;
    q.push(job::Release{4, "n2"});
    q.push(job::Acquire{5});
    q.push(job::Release{5, ""});
    EXPECT_EQ(drain(q, t(0)), (std::vector<std::string>{"release:4", "acquire:5", "release:5"}));
}

TEST(JobQueue, EventsAreWrittenInTheOrderTheyHappened) {
    MainQueue q;
    for (const char* k : {"one", "two", "three"})
        q.push(job::Record{k, "", 0});
    EXPECT_EQ(drain(q, t(0)),
              (std::vector<std::string>{"record:one", "record:two", "record:three"}));
}

TEST(JobQueue, AWaitingAcquireAnswersASecondOne) {
    MainQueue q;
    q.push(job::Acquire{3});
    q.push(job::Acquire{7});
    EXPECT_EQ(q.count<job::Acquire>(), 1u);
    EXPECT_EQ(drain(q, t(0)), (std::vector<std::string>{"acquire:3"}));
    q.push(job::Acquire{8});  // once taken, a new one queues again
    EXPECT_EQ(drain(q, t(0)), (std::vector<std::string>{"acquire:8"}));
}

TEST(JobQueue, ANewerNodeReportReplacesTheWaitingOne) {
    MainQueue q;
    q.push(job::Record{"x", "", 0});
    q.push(job::Publish{report("starting")});
    q.push(job::Publish{report("running")});
    EXPECT_EQ(drain(q, t(0)), (std::vector<std::string>{"publish:running", "record:x"}));
}

TEST(JobQueue, APollWaitsForItsTimeWithoutHoldingBackOtherWork) {
    MainQueue q;
    q.push(job::CheckPause{}, t(2000));
    q.push(job::Record{"r", "", 0});
    EXPECT_EQ(q.next_due(), TimePoint::min());
    EXPECT_EQ(drain(q, t(0)), (std::vector<std::string>{"record:r"}));
    EXPECT_EQ(q.next_due(), t(2000));
    EXPECT_EQ(drain(q, t(1999)), std::vector<std::string>{});
    EXPECT_EQ(drain(q, t(2000)), (std::vector<std::string>{"pause?"}));
    EXPECT_EQ(q.next_due(), TimePoint::max());
}

TEST(JobQueue, NotifyBringsAPollForwardButNeverPushesItBack) {
    MainQueue q;
    q.push(job::CheckCommands{}, t(2000));
    q.push(job::CheckCommands{});  // NOTIFY: look now
    EXPECT_EQ(q.count<job::CheckCommands>(), 1u);
    EXPECT_EQ(q.next_due(), TimePoint::min());
    EXPECT_EQ(drain(q, t(0)), (std::vector<std::string>{"commands?"}));

    q.push(job::CheckCommands{}, t(2000));
    q.push(job::CheckCommands{}, t(5000));  // a later regular look does not delay the earlier
    EXPECT_EQ(q.next_due(), t(2000));
}

TEST(JobQueue, TheLogIsBoundedByDroppingTheOldest) {
    MainQueue q;
    for (std::size_t i = 0; i < job::k_max_queued_records + 3; ++i)
        q.push(job::Record{std::to_string(i), "", 0});
    EXPECT_EQ(q.count<job::Record>(), job::k_max_queued_records);
    EXPECT_EQ(q.dropped(), 3u);
    auto first = q.pop(t(0));
    ASSERT_TRUE(first);
    EXPECT_EQ(name(*first), "record:3");
}

TEST(JobQueue, AJobPutBackRunsFirstOfItsPriority) {
    MainQueue q;
    q.push(job::Record{"later", "", 0});
    q.push(job::Acquire{1});
    q.push_front(job::Record{"earlier", "", 0});
    EXPECT_EQ(drain(q, t(0)),
              (std::vector<std::string>{"acquire:1", "record:earlier", "record:later"}));
}

TEST(JobQueue, WhileStoppingPollsAreLeftAndTheRestDrains) {
    MainQueue q;
    q.push(job::CheckPause{});
    q.push(job::CheckCommands{});
    q.push(job::Record{"last words", "", 0});
    EXPECT_FALSE(q.empty(true));
    EXPECT_EQ(drain(q, t(0), true), (std::vector<std::string>{"record:last words"}));
    EXPECT_TRUE(q.empty(true));
    EXPECT_FALSE(q.empty());  // the polls are still there, not run
    EXPECT_EQ(q.next_due(true), TimePoint::max());
}

TEST(JobQueue, ClearDropsOneKindOnly) {
    MainQueue q;
    q.push(job::CheckCommands{});
    q.push(job::CheckPause{});
    q.clear<job::CheckCommands>();
    EXPECT_EQ(drain(q, t(0)), (std::vector<std::string>{"pause?"}));
}

// A queue of the test's own job types: equal priorities interleave in queued order, and a
// higher priority queued later still goes first.
struct Low {
    static constexpr JobPolicy policy{5};
    int n;
};
struct AlsoLow {
    static constexpr JobPolicy policy{5};
    int n;
};
struct Urgent {
    static constexpr JobPolicy policy{1};
    int n;
};

TEST(JobQueue, EqualPrioritiesInterleaveInQueuedOrder) {
    JobQueue<Low, AlsoLow, Urgent> q;
    q.push(Low{1});
    q.push(AlsoLow{2});
    q.push(Low{3});
    q.push(Urgent{4});
    std::vector<int> order;
    while (auto j = q.pop(t(0)))
        order.push_back(std::visit([](const auto& x) { return x.n; }, *j));
    EXPECT_EQ(order, (std::vector<int>{4, 1, 2, 3}));
}

}  // namespace
