// Text from the database printed by `status` and `history` (issue 22): another role's text
// (the dashboard's for_holder, an operator's reason) cannot move the cursor, recolour or clear
// the screen, or forge a line.
#include "af/history/printable.hpp"

#include <gtest/gtest.h>

using af::history::printable;

TEST(Printable, PlainTextAndUtf8AreKept) {
    EXPECT_EQ(printable("node-a"), "node-a");
    EXPECT_EQ(printable("Zürich → München 東京 🙂"), "Zürich → München 東京 🙂");
}

TEST(Printable, EscapeSequencesAndNewlinesAreNeutralised) {
    // Clear the screen, home the cursor, then a forged status line.
    const std::string forged = "node-b\x1b[2J\x1b[H\ncluster c: active node-x, term 9\r\x07";
    const std::string out = printable(forged);
    EXPECT_EQ(out.find('\x1b'), std::string::npos);
    EXPECT_EQ(out.find('\n'), std::string::npos);
    EXPECT_EQ(out.find('\r'), std::string::npos);
    EXPECT_EQ(out.find('\x07'), std::string::npos);
    EXPECT_EQ(out, "node-b\\x1b[2J\\x1b[H\\x0acluster c: active node-x, term 9\\x0d\\x07");
}

TEST(Printable, C1ControlsDelAndBrokenUtf8AreEscaped) {
    EXPECT_EQ(printable("a\xc2\x9b"
                        "31mb"),
              "a\\xc2\\x9b31mb");  // U+009B, CSI
    EXPECT_EQ(printable("x\x7fy"), "x\\x7fy");
    EXPECT_EQ(printable("\x9b"
                        "2J"),
              "\\x9b2J");                                     // a lone C1 byte
    EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");           // overlong
    EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a UTF-16 surrogate
    EXPECT_EQ(printable("tab\there"), "tab\\x09here");
    EXPECT_EQ(printable("back\\x1b"), "back\\\\x1b");  // an escape cannot be faked
}
