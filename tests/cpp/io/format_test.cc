// The IO layer's parsers and formatters: one per format, shared by every connector.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "deltaflow/io/format.h"
#include "deltaflow/io/parse.h"

namespace deltaflow::io {
namespace {

using value::Row;
using value::RowBuilder;

std::vector<Column> WordColumns() {
  return {{"word", ColumnType::kString, false, std::nullopt}, {"n", ColumnType::kInt, false, std::nullopt}};
}

TEST(ParseTest, Utf8IsValidatedInTextCells) {
  EXPECT_TRUE(IsValidUtf8("zażółć gęślą jaźń"));
  EXPECT_FALSE(IsValidUtf8("bad \xff byte"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));        // an overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));    // a surrogate
  RowBuilder b;
  absl::Status s = ParseCell("a\xff", WordColumns()[0], b);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("column word holds text that is not valid UTF-8"), std::string::npos);
  EXPECT_FALSE(ParsePlaintext("\xfe", b).ok());
  EXPECT_TRUE(ParsePlaintext("ok", b).ok());
}

TEST(ParseTest, DsvMapsFieldsByHeaderAndReportsShortRecords) {
  DsvParser parser(WordColumns(), DsvDialect{}, /*has_header=*/true);
  std::vector<std::string> header;
  RowBuilder b;
  EXPECT_EQ(*parser.Parse("n,word", header, b), DsvParser::Outcome::kSkipped);
  ASSERT_EQ(*parser.Parse("3,\"a,\"\"b\"\"\"", header, b), DsvParser::Outcome::kRow);
  Row row = b.Finish();
  EXPECT_EQ(row[0].AsString(), "a,\"b\"");
  EXPECT_EQ(row[1].AsInt(), 3);
  EXPECT_EQ(*parser.Parse("", header, b), DsvParser::Outcome::kSkipped);
  absl::StatusOr<DsvParser::Outcome> short_record = parser.Parse("4", header, b);
  EXPECT_EQ(short_record.status().message(), "expected 2 fields, found 1");
  b.Clear();
  EXPECT_EQ(parser.Parse("x,w", header, b).status().message(), "cannot parse \"x\" as int for column n");
  b.Clear();
  EXPECT_EQ(parser.Parse("\"open,1", header, b).status().message(), "unterminated quoted field");
}

TEST(ParseTest, OptionalCellsReadNoneAndNullAsNone) {
  Column maybe{"maybe", ColumnType::kInt, true, std::nullopt};
  Column json{"j", ColumnType::kJson, true, std::nullopt};
  for (std::string_view text : {"", "None", "null", " NULL "}) {
    RowBuilder b;
    ASSERT_TRUE(ParseCell(text, maybe, b).ok()) << text;
    EXPECT_TRUE(b.Finish()[0].IsNull()) << text;
  }
  RowBuilder b;
  ASSERT_TRUE(ParseCell("null", json, b).ok());
  EXPECT_EQ(b.Finish()[0].AsJson(), "null");  // in a Json column, null is a Json value
  Column required{"n", ColumnType::kInt, false, std::nullopt};
  EXPECT_FALSE(ParseCell("None", required, b).ok());
}

TEST(ParseTest, DsvWithoutHeaderTakesColumnsInOrder) {
  DsvParser parser(WordColumns(), DsvDialect{';'}, /*has_header=*/false);
  std::vector<std::string> header;
  RowBuilder b;
  ASSERT_EQ(*parser.Parse("hello;7", header, b), DsvParser::Outcome::kRow);
  Row row = b.Finish();
  EXPECT_EQ(row[0].AsString(), "hello");
  EXPECT_EQ(row[1].AsInt(), 7);
  EXPECT_TRUE(header.empty());
}

TEST(ParseTest, DsvRecordEndKeepsQuotedNewlinesInOneRecord) {
  DsvDialect dialect;
  bool quoted = false;
  EXPECT_EQ(DsvRecordEnd("a,\"b\nc\"\nrest", dialect, &quoted), 8u);
  EXPECT_EQ(DsvRecordEnd("a,\"b\nc", dialect, &quoted), std::string_view::npos);
  EXPECT_TRUE(quoted);
}

TEST(ParseTest, JsonTakesFieldsByNameOrPointer) {
  std::vector<Column> columns = WordColumns();
  columns.push_back({"deep", ColumnType::kFloat, false, std::nullopt});
  JsonParser parser(columns, {{"deep", "/a/b/1"}});
  RowBuilder b;
  ASSERT_TRUE(parser.Parse(R"({"n": 2, "word": "hi", "a": {"b": [0, 1.5]}})", b).ok());
  Row row = b.Finish();
  EXPECT_EQ(row[0].AsString(), "hi");
  EXPECT_EQ(row[1].AsInt(), 2);
  EXPECT_EQ(row[2].AsFloat(), 1.5);
  EXPECT_EQ(parser.Parse(R"({"word": "hi", "a": {"b": [0, 1]}})", b).message(), "missing field n");
  b.Clear();
  EXPECT_EQ(parser.Parse(R"({"word": 1, "n": 2})", b).message(), "column word expects a string, got 1");
  b.Clear();
  EXPECT_NE(std::string(parser.Parse("{\"word\": \"\xff\", \"n\": 2}", b).message()).find("invalid JSON"),
            std::string::npos);
  b.Clear();
  EXPECT_EQ(parser.Parse("[1]", b).message(), "a JSON record must be an object");
}

TEST(FormatTest, DsvQuotesEveryFieldAndCarriesTimeAndDiff) {
  RowBuilder b;
  b.String("a,\"q\"").Int(3).Float(0.5).Null().Bool(true);
  b.Bytes({reinterpret_cast<const uint8_t*>("hi!"), 3});
  Row row = b.Finish();
  std::string out;
  AppendDsvHeader({"s", "i", "f", "n", "b", "y"}, ',', out);
  EXPECT_EQ(out, "\"s\",\"i\",\"f\",\"n\",\"b\",\"y\",\"time\",\"diff\"");
  out.clear();
  AppendDsvChange(row, 12, -1, ',', out);
  EXPECT_EQ(out, "\"a,\"\"q\"\"\",\"3\",\"0.5\",\"None\",\"True\",\"aGkh\",\"12\",\"-1\"");
}

TEST(FormatTest, JsonChangeHasColumnsThenDiffAndTime) {
  RowBuilder b;
  b.String("x\n").Float(std::nan("")).BeginTuple().Int(1).String("t").EndTuple();
  ASSERT_TRUE(b.Json(R"({"k":[1,2]})").ok());
  Row row = b.Finish();
  std::string out;
  AppendJsonChange({"s", "f", "t", "j"}, row, 4, 1, out);
  EXPECT_EQ(out, R"({"s":"x\n","f":null,"t":[1,"t"],"j":{"k":[1,2]},"diff":1,"time":4})");
}

TEST(FormatTest, TextOfValuesAsPathwayWritesThem) {
  auto text = [](auto fill) {
    RowBuilder b;
    fill(b);
    Row row = b.Finish();
    std::string out;
    AppendText(row[0], out);
    return out;
  };
  EXPECT_EQ(text([](RowBuilder& b) { b.Float(1e20); }), "1e20");
  EXPECT_EQ(text([](RowBuilder& b) { b.Float(2.0); }), "2.0");
  EXPECT_EQ(text([](RowBuilder& b) { b.Float(std::nan("")); }), "NaN");
  EXPECT_EQ(text([](RowBuilder& b) { b.DateTimeUtc(1500000000); }), "1970-01-01T00:00:01.500000000+0000");
  EXPECT_EQ(text([](RowBuilder& b) { b.Duration(-7); }), "-7");
  EXPECT_EQ(text([](RowBuilder& b) { b.String("zażółć"); }), "zażółć");
  std::string base64;
  AppendBase64({reinterpret_cast<const uint8_t*>("ab"), 2}, base64);
  EXPECT_EQ(base64, "YWI=");
}

}  // namespace
}  // namespace deltaflow::io
