#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "deltaflow/value/row.h"

namespace deltaflow::value {
namespace {

std::string Canon(std::string_view text) {
  absl::StatusOr<std::string> out = CanonicalJson(text);
  EXPECT_TRUE(out.ok()) << out.status() << " for " << text;
  return out.ok() ? *out : "";
}

TEST(CanonicalJsonTest, KeepsFieldOrderAndDropsWhitespace) {
  EXPECT_EQ(Canon(R"( { "b" : 1, "a" : { "d": [1, 2], "c": null } } )"),
            R"({"b":1,"a":{"d":[1,2],"c":null}})");
  EXPECT_NE(Canon(R"({"a":1,"b":2})"), Canon(R"({"b":2,"a":1})"));
}

TEST(CanonicalJsonTest, RepeatedKeyKeepsItsFirstPlaceAndLastValue) {
  EXPECT_EQ(Canon(R"({"a":1,"b":0,"a":2})"), R"({"a":2,"b":0})");
  // Past the linear scan's reach the lookup goes through a map; the result is the same.
  std::string text = "{";
  std::string expected = "{";
  for (int i = 0; i < 40; ++i) {
    absl::StrAppend(&text, "\"k", i, "\":", i, ",");
    absl::StrAppend(&expected, i ? "," : "", "\"k", i, "\":", i % 5 == 0 ? -i : i);
  }
  for (int i = 0; i < 40; i += 5) absl::StrAppend(&text, "\"k", i, "\":", -i, ",");
  text.back() = '}';
  expected += "}";
  EXPECT_EQ(Canon(text), expected);
}

TEST(CanonicalJsonTest, KeepsIntsAndFloatsApartAndNormalisesFloats) {
  EXPECT_EQ(Canon("1"), "1");
  EXPECT_EQ(Canon("1.0"), "1.0");
  EXPECT_EQ(Canon("1e2"), "100.0");
  EXPECT_EQ(Canon("-0.0"), "0.0");
  EXPECT_EQ(Canon("0.1"), "0.1");
  EXPECT_EQ(Canon("-9223372036854775808"), "-9223372036854775808");
  EXPECT_EQ(Canon("18446744073709551615"), "18446744073709551615");
  EXPECT_EQ(Canon("1.5e300"), "1.5e+300");
}

TEST(CanonicalJsonTest, EscapesStringsOneWay) {
  EXPECT_EQ(Canon(R"("a\u0041\n\u00e9\/")"), "\"aA\\n\xc3\xa9/\"");
  EXPECT_EQ(Canon(R"("\u0001")"), R"("\u0001")");
}

TEST(CanonicalJsonTest, IsIdempotent) {
  for (const char* text : {R"({"z":[1,{"y":2.5,"x":"s"}],"a":true})", "[]", "{}", "\"\"",
                           "false", "null", "[1.0,-2,3e-7]"}) {
    std::string once = Canon(text);
    EXPECT_EQ(Canon(once), once);
  }
}

TEST(CanonicalJsonTest, RejectsInvalidJson) {
  for (const char* text : {"", "{", "[1,]", "{'a':1}", "nan", "1 2", "99999999999999999999"}) {
    absl::StatusOr<std::string> out = CanonicalJson(text);
    EXPECT_FALSE(out.ok()) << text;
    if (!out.ok()) {
      EXPECT_TRUE(absl::IsInvalidArgument(out.status()));
    }
  }
}

TEST(CanonicalJsonTest, EqualDocumentsGiveEqualRows) {
  RowBuilder a;
  RowBuilder b;
  ASSERT_TRUE(a.Json(R"({"x": [1, 2], "y": "z"})").ok());
  ASSERT_TRUE(b.Json(R"({"x":[1,2],"y":"z"})").ok());
  EXPECT_EQ(a.Finish(), b.Finish());
  RowBuilder c;
  EXPECT_FALSE(c.Json("{oops}").ok());
  EXPECT_EQ(c.Finish().arity(), 0u);  // nothing stored on failure
}

}  // namespace
}  // namespace deltaflow::value
