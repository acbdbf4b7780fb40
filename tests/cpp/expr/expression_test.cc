// Expression evaluation: Python's numeric rules, strings, failures as Error values.
#include "deltaflow/expr/expression.h"

#include <gtest/gtest.h>

#include <string>

namespace deltaflow::expr {
namespace {

using value::Key;
using value::Row;
using value::RowBuilder;

Expression Const(int64_t v) {
  RowBuilder b;
  b.Int(v);
  return Expression::Constant(b.Finish());
}
Expression ConstF(double v) {
  RowBuilder b;
  b.Float(v);
  return Expression::Constant(b.Finish());
}
Expression ConstS(const std::string& v) {
  RowBuilder b;
  b.String(v);
  return Expression::Constant(b.Finish());
}

Value Eval(const Expression& e, Evaluator& ev) {
  Row empty = RowBuilder().Finish();
  return ev.Eval(e, RowInput{empty.view(), Key()});
}

TEST(ExpressionTest, IntegerDivisionAndModuloFloorLikePython) {
  Evaluator ev;
  EXPECT_EQ(Eval(Expression::Call(Op::kFloorDiv, {Const(-7), Const(2)}), ev).AsInt(), -4);
  EXPECT_EQ(Eval(Expression::Call(Op::kMod, {Const(-7), Const(2)}), ev).AsInt(), 1);
  EXPECT_EQ(Eval(Expression::Call(Op::kMod, {Const(7), Const(-2)}), ev).AsInt(), -1);
  EXPECT_DOUBLE_EQ(Eval(Expression::Call(Op::kTrueDiv, {Const(7), Const(2)}), ev).AsFloat(), 3.5);
  EXPECT_DOUBLE_EQ(Eval(Expression::Call(Op::kMod, {ConstF(-7.5), ConstF(-2.0)}), ev).AsFloat(), -1.5);
  EXPECT_EQ(Eval(Expression::Call(Op::kPow, {Const(3), Const(4)}), ev).AsInt(), 81);
  EXPECT_FALSE(ev.failed());
}

TEST(ExpressionTest, FailuresAreErrorValuesWithAReason) {
  Evaluator ev;
  Value v = Eval(Expression::Call(Op::kFloorDiv, {Const(1), Const(0)}, "a // 0"), ev);
  EXPECT_TRUE(v.IsError());
  EXPECT_EQ(ev.error(), "division by zero");
  EXPECT_EQ(ev.error_expression(), "a // 0");
  ev.ClearError();
  v = Eval(Expression::Call(Op::kAdd, {Const(INT64_MAX), Const(1)}), ev);
  EXPECT_TRUE(v.IsError());
  ev.ClearError();
  // An error replaced by fill_error is not a failure.
  v = Eval(Expression::Call(Op::kFillError, {Expression::Call(Op::kTrueDiv, {Const(1), Const(0)}), Const(5)}), ev);
  EXPECT_EQ(v.AsInt(), 5);
  EXPECT_FALSE(ev.failed());
}

TEST(ExpressionTest, StringMethods) {
  Evaluator ev;
  EXPECT_EQ(Eval(Expression::Call(Op::kStrSwapcase, {ConstS("Hello")}), ev).text(), "hELLO");
  EXPECT_EQ(Eval(Expression::Call(Op::kStrFind, {ConstS("Hello"), ConstS("l")}), ev).AsInt(), 2);
  EXPECT_EQ(Eval(Expression::Call(Op::kStrRfind, {ConstS("Hello"), ConstS("l")}), ev).AsInt(), 3);
  EXPECT_EQ(Eval(Expression::Call(Op::kStrCount, {ConstS("Hello"), ConstS("l")}), ev).AsInt(), 2);
  EXPECT_EQ(Eval(Expression::Call(Op::kStrReplace, {ConstS("Hello"), ConstS("l"), ConstS("L"), Const(1)}), ev).text(), "HeLlo");
  EXPECT_EQ(Eval(Expression::Call(Op::kStrSlice, {ConstS("Hello"), Const(1), Const(3)}), ev).text(), "el");
  EXPECT_EQ(Eval(Expression::Call(Op::kStrReversed, {ConstS("héllo")}), ev).text(), "olléh");
  EXPECT_EQ(Eval(Expression::Call(Op::kStrLen, {ConstS("héllo")}), ev).AsInt(), 5);
  Value parsed = Eval(Expression::Call(Op::kStrParseInt, {ConstS("aBc")}), ev);
  EXPECT_TRUE(parsed.IsError());
  EXPECT_NE(ev.error().find("aBc"), std::string::npos);
}

TEST(ExpressionTest, ToStringMatchesPythonStr) {
  Evaluator ev;
  EXPECT_EQ(Eval(Expression::Call(Op::kToString, {ConstF(2.0)}), ev).text(), "2.0");
  EXPECT_EQ(Eval(Expression::Call(Op::kToString, {ConstF(0.1)}), ev).text(), "0.1");
  EXPECT_EQ(Eval(Expression::Call(Op::kToString, {ConstF(1e20)}), ev).text(), "1e+20");
  EXPECT_EQ(Eval(Expression::Call(Op::kToString, {ConstF(1e-5)}), ev).text(), "1e-05");
  EXPECT_EQ(Eval(Expression::Call(Op::kToString, {Const(-3)}), ev).text(), "-3");
}

TEST(ExpressionTest, PointerFromMatchesPublishedIds) {
  Evaluator ev;
  EXPECT_EQ(Eval(Expression::Call(Op::kPointerFrom, {Const(0)}), ev).AsKey().ToString(), "^X1MXHYYG4YM0DB900V28XN5T4W");
  EXPECT_EQ(Eval(Expression::Call(Op::kPointerFrom, {Const(10), Const(1)}), ev).AsKey().ToString(), "^XEVK51THSRW36657M6VSF0GV0R");
  EXPECT_EQ(Eval(Expression::Call(Op::kPointerFrom, {ConstS("x")}), ev).AsKey().ToString(), "^THZJJ9KC0T0SQ0307QJ3JAA18R");
  EXPECT_EQ(Eval(Expression::Call(Op::kPointerFrom, {}), ev).AsKey().ToString(), "^PWSRT420000000000000000000");
}

}  // namespace
}  // namespace deltaflow::expr
