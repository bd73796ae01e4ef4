/*
 * check_val.c - attribute values: constructors and ownership, sorted maps
 * and sets, DynamoDB's equality, key ordering, the invariant checker and
 * UTF-8 validation.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "val.h"

static struct num N(const char *s) {
	struct num n;

	ck_assert_int_eq(num_parse(s, strlen(s), &n, NULL), 0);
	return n;
}

static void
mk_str(struct val *v, const char *s)
{
	ck_assert_int_eq(val_init_str(v, s, strlen(s)), 0);
}

static void mk_num(struct val *v, const char *s)
{
	struct num n = N(s);

	val_init_num(v, &n);
}

static void map_put_str(struct val *m, const char *name, const char *s)
{
	struct val v;

	mk_str(&v, s);
	ck_assert_int_eq(val_map_set(m, name, strlen(name), &v), 0);
	ck_assert_int_eq(v.type, VAL_NULL);
}

static void map_put_num(struct val *m, const char *name, const char *s)
{
	struct val v;

	mk_num(&v, s);
	ck_assert_int_eq(val_map_set(m, name, strlen(name), &v), 0);
}

static int set_add_str(struct val *set, const char *s)
{
	struct val v;

	mk_str(&v, s);
	return val_set_add(set, &v);
}

static int set_add_num(struct val *set, const char *s)
{
	struct val v;

	mk_num(&v, s);
	return val_set_add(set, &v);
}

static int set_add_bin(struct val *set, const void *p, size_t len)
{
	struct val v;

	ck_assert_int_eq(val_init_bin(&v, p, len), 0);
	return val_set_add(set, &v);
}

/* ---- type names ---- */

START_TEST(test_type_names_round_trip)
{
	for (int t = VAL_NULL; t <= VAL_BS; t++) {
		enum val_type back;

		ck_assert_int_eq(val_type_from_name(val_type_name(t), &back), 0);
		ck_assert_int_eq(back, t);
	}
	ck_assert_str_eq(val_type_name(VAL_BOOL), "BOOL");
	ck_assert_str_eq(val_type_name(VAL_NS), "NS");
}
END_TEST

START_TEST(test_type_from_name_rejects_unknown)
{
	enum val_type t;

	ck_assert_int_eq(val_type_from_name("X", &t), -EINVAL);
	ck_assert_int_eq(val_type_from_name("s", &t), -EINVAL);
	ck_assert_int_eq(val_type_from_name("", &t), -EINVAL);
}
END_TEST

START_TEST(test_type_predicates)
{
	ck_assert(val_type_is_key(VAL_S) && val_type_is_key(VAL_N) && val_type_is_key(VAL_B));
	ck_assert(!val_type_is_key(VAL_BOOL) && !val_type_is_key(VAL_SS));
	ck_assert(val_type_is_set(VAL_NS) && !val_type_is_set(VAL_L));
	ck_assert_int_eq(val_set_elem_type(VAL_SS), VAL_S);
	ck_assert_int_eq(val_set_elem_type(VAL_NS), VAL_N);
	ck_assert_int_eq(val_set_elem_type(VAL_BS), VAL_B);
}
END_TEST

/* ---- constructors, copy, move ---- */

START_TEST(test_init_str_copies_and_terminates)
{
	char src[] = "hello";
	struct val v;

	ck_assert_int_eq(val_init_str(&v, src, 3), 0);
	src[0] = 'j';
	ck_assert_int_eq(v.type, VAL_S);
	ck_assert_uint_eq(v.s.len, 3);
	ck_assert_str_eq(v.s.p, "hel");
	val_free(&v);
	ck_assert_int_eq(v.type, VAL_NULL);
	ck_assert_int_eq(val_init_str(&v, NULL, 0), 0);
	ck_assert_ptr_nonnull(v.s.p);
	ck_assert_str_eq(v.s.p, "");
	val_free(&v);
}
END_TEST

START_TEST(test_init_bin_keeps_nul_bytes)
{
	static const uint8_t b[] = {0, 1, 0, 0xff};
	struct val v;

	ck_assert_int_eq(val_init_bin(&v, b, sizeof(b)), 0);
	ck_assert_int_eq(v.type, VAL_B);
	ck_assert_uint_eq(v.s.len, 4);
	ck_assert_int_eq(memcmp(v.s.p, b, 4), 0);
	ck_assert_int_eq(v.s.p[4], 0);
	val_free(&v);
	val_free(NULL);
}
END_TEST

static void build_tree(struct val *m)
{
	struct val l, set, inner, x;

	val_init_map(m);
	map_put_str(m, "name", "hedy");
	map_put_num(m, "level", "3");
	val_init_list(&l);
	mk_num(&x, "95");
	ck_assert_int_eq(val_list_append(&l, &x), 0);
	val_init_bool(&x, true);
	ck_assert_int_eq(val_list_append(&l, &x), 0);
	val_init_null(&x);
	ck_assert_int_eq(val_list_append(&l, &x), 0);
	ck_assert_int_eq(val_map_set(m, "scores", 6, &l), 0);
	val_init_set(&set, VAL_SS);
	ck_assert_int_eq(set_add_str(&set, "b"), 1);
	ck_assert_int_eq(set_add_str(&set, "a"), 1);
	ck_assert_int_eq(val_map_set(m, "tags", 4, &set), 0);
	val_init_map(&inner);
	map_put_str(&inner, "x", "y");
	ck_assert_int_eq(val_map_set(m, "inner", 5, &inner), 0);
}

START_TEST(test_copy_is_deep)
{
	struct val a, b;

	build_tree(&a);
	ck_assert_int_eq(val_copy(&b, &a), 0);
	ck_assert(val_equal(&a, &b));
	ck_assert_int_eq(val_check(&b, NULL), 0);
	map_put_str(val_map_get(&b, "inner", 5), "x", "changed");
	ck_assert(!val_equal(&a, &b));
	ck_assert_str_eq(val_map_get(val_map_get(&a, "inner", 5), "x", 1)->s.p, "y");
	val_free(&a);
	val_free(&b);
}
END_TEST

START_TEST(test_move_leaves_source_null)
{
	struct val a, b;

	build_tree(&a);
	val_move(&b, &a);
	ck_assert_int_eq(a.type, VAL_NULL);
	ck_assert_int_eq(b.type, VAL_M);
	ck_assert_uint_eq(b.m.len, 5);
	val_free(&a);
	val_free(&b);
}
END_TEST

/* ---- maps ---- */

START_TEST(test_map_keeps_names_sorted)
{
	static const char *const want[] = {"", "A", "a", "ab", "b", "\xc3\xa9"};
	static const char *const ins[] = {"b", "\xc3\xa9", "ab", "", "a", "A"};
	struct val m;

	val_init_map(&m);
	for (size_t i = 0; i < 6; i++)
		map_put_str(&m, ins[i], ins[i]);
	ck_assert_uint_eq(m.m.len, 6);
	for (size_t i = 0; i < 6; i++) {
		ck_assert_str_eq(m.m.a[i].name, want[i]);
		ck_assert_uint_eq(m.m.a[i].name_len, strlen(want[i]));
	}
	ck_assert_int_eq(val_check(&m, NULL), 0);
	val_free(&m);
}
END_TEST

START_TEST(test_map_set_replaces_value)
{
	struct val m;

	val_init_map(&m);
	map_put_str(&m, "a", "1");
	map_put_num(&m, "a", "2");
	ck_assert_uint_eq(m.m.len, 1);
	ck_assert_int_eq(val_map_get(&m, "a", 1)->type, VAL_N);
	val_free(&m);
}
END_TEST

START_TEST(test_map_get_finds_by_length)
{
	struct val m;

	val_init_map(&m);
	map_put_str(&m, "ab", "x");
	ck_assert_ptr_null(val_map_get(&m, "abc", 1));
	ck_assert_ptr_nonnull(val_map_get(&m, "abc", 2));
	ck_assert_ptr_null(val_map_get(&m, "abc", 3));
	ck_assert_ptr_null(val_map_get(&m, "", 0));
	val_free(&m);
}
END_TEST

START_TEST(test_map_get_on_many_attributes)
{
	struct val m;
	char name[16];

	val_init_map(&m);
	for (int i = 999; i >= 0; i--) {
		snprintf(name, sizeof(name), "k%d", i * 7919 % 1000);
		map_put_num(&m, name, "1");
	}
	ck_assert_uint_eq(m.m.len, 1000);
	ck_assert_int_eq(val_check(&m, NULL), 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		ck_assert_ptr_nonnull(val_map_get(&m, name, strlen(name)));
	}
	val_free(&m);
}
END_TEST

START_TEST(test_map_remove_reports_presence)
{
	struct val m;

	val_init_map(&m);
	map_put_str(&m, "a", "1");
	map_put_str(&m, "b", "2");
	map_put_str(&m, "c", "3");
	ck_assert_int_eq(val_map_remove(&m, "b", 1), 1);
	ck_assert_int_eq(val_map_remove(&m, "b", 1), 0);
	ck_assert_uint_eq(m.m.len, 2);
	ck_assert_str_eq(m.m.a[1].name, "c");
	ck_assert_int_eq(val_check(&m, NULL), 0);
	val_free(&m);
}
END_TEST

/* ---- sets ---- */

START_TEST(test_set_add_keeps_strings_sorted_and_unique)
{
	struct val s;

	val_init_set(&s, VAL_SS);
	ck_assert_int_eq(set_add_str(&s, "b"), 1);
	ck_assert_int_eq(set_add_str(&s, "ab"), 1);
	ck_assert_int_eq(set_add_str(&s, "a"), 1);
	ck_assert_int_eq(set_add_str(&s, "b"), 0);
	ck_assert_int_eq(set_add_str(&s, ""), 1);
	ck_assert_uint_eq(s.l.len, 4);
	ck_assert_str_eq(s.l.v[0].s.p, "");
	ck_assert_str_eq(s.l.v[1].s.p, "a");
	ck_assert_str_eq(s.l.v[2].s.p, "ab");
	ck_assert_str_eq(s.l.v[3].s.p, "b");
	ck_assert_int_eq(val_check(&s, NULL), 0);
	val_free(&s);
}
END_TEST

START_TEST(test_set_add_orders_numbers_numerically)
{
	struct val s;
	char buf[NUM_TEXT_MAX];

	val_init_set(&s, VAL_NS);
	ck_assert_int_eq(set_add_num(&s, "10"), 1);
	ck_assert_int_eq(set_add_num(&s, "9"), 1);
	ck_assert_int_eq(set_add_num(&s, "-1"), 1);
	ck_assert_int_eq(set_add_num(&s, "1e-5"), 1);
	ck_assert_int_eq(set_add_num(&s, "10.0"), 0);
	ck_assert_uint_eq(s.l.len, 4);
	num_format(&s.l.v[0].n, buf);
	ck_assert_str_eq(buf, "-1");
	num_format(&s.l.v[1].n, buf);
	ck_assert_str_eq(buf, "0.00001");
	num_format(&s.l.v[3].n, buf);
	ck_assert_str_eq(buf, "10");
	val_free(&s);
}
END_TEST

START_TEST(test_set_add_orders_binary_unsigned)
{
	struct val s;

	val_init_set(&s, VAL_BS);
	ck_assert_int_eq(set_add_bin(&s, "\x80", 1), 1);
	ck_assert_int_eq(set_add_bin(&s, "\x7f", 1), 1);
	ck_assert_int_eq(set_add_bin(&s, "\x7f\x00", 2), 1);
	ck_assert_int_eq(set_add_bin(&s, "", 0), 1);
	ck_assert_int_eq(set_add_bin(&s, "\x7f\x00", 2), 0);
	ck_assert_uint_eq(s.l.len, 4);
	ck_assert_uint_eq(s.l.v[0].s.len, 0);
	ck_assert_uint_eq(s.l.v[1].s.len, 1);
	ck_assert_uint_eq(s.l.v[2].s.len, 2);
	ck_assert_int_eq((uint8_t)s.l.v[3].s.p[0], 0x80);
	ck_assert_int_eq(val_check(&s, NULL), 0);
	val_free(&s);
}
END_TEST

START_TEST(test_set_add_rejects_wrong_type)
{
	struct val s;

	val_init_set(&s, VAL_SS);
	ck_assert_int_eq(set_add_num(&s, "1"), -EINVAL);
	ck_assert_uint_eq(s.l.len, 0);
	val_free(&s);
}
END_TEST

START_TEST(test_set_find_and_remove)
{
	struct val s, e;

	val_init_set(&s, VAL_NS);
	set_add_num(&s, "3");
	set_add_num(&s, "1");
	set_add_num(&s, "2");
	mk_num(&e, "2.0");
	ck_assert_int_eq(val_set_find(&s, &e), 1);
	ck_assert_int_eq(val_set_remove(&s, &e), 1);
	ck_assert_int_eq(val_set_find(&s, &e), -1);
	ck_assert_int_eq(val_set_remove(&s, &e), 0);
	ck_assert_uint_eq(s.l.len, 2);
	mk_str(&e, "1");
	ck_assert_int_eq(val_set_find(&s, &e), -1);
	val_free(&e);
	val_free(&s);
}
END_TEST

/* ---- equality and ordering ---- */

START_TEST(test_equal_compares_numbers_numerically)
{
	struct val a, b;

	mk_num(&a, "1.0");
	mk_num(&b, "1");
	ck_assert(val_equal(&a, &b));
	mk_num(&b, "1.01");
	ck_assert(!val_equal(&a, &b));
	mk_str(&b, "1");
	ck_assert(!val_equal(&a, &b));
	val_free(&b);
}
END_TEST

START_TEST(test_equal_compares_sets_as_sets)
{
	struct val a, b;

	val_init_set(&a, VAL_SS);
	val_init_set(&b, VAL_SS);
	set_add_str(&a, "x");
	set_add_str(&a, "y");
	set_add_str(&b, "y");
	set_add_str(&b, "x");
	ck_assert(val_equal(&a, &b));
	set_add_str(&b, "z");
	ck_assert(!val_equal(&a, &b));
	val_free(&a);
	val_free(&b);
}
END_TEST

START_TEST(test_equal_respects_list_order)
{
	struct val a, b, x;

	val_init_list(&a);
	val_init_list(&b);
	mk_num(&x, "1");
	val_list_append(&a, &x);
	mk_num(&x, "2");
	val_list_append(&a, &x);
	mk_num(&x, "2");
	val_list_append(&b, &x);
	mk_num(&x, "1");
	val_list_append(&b, &x);
	ck_assert(!val_equal(&a, &b));
	val_free(&a);
	val_free(&b);
}
END_TEST

START_TEST(test_equal_compares_maps_deeply)
{
	struct val a, b;

	build_tree(&a);
	build_tree(&b);
	ck_assert(val_equal(&a, &b));
	map_put_str(&b, "extra", "");
	ck_assert(!val_equal(&a, &b));
	val_map_remove(&b, "extra", 5);
	ck_assert(val_equal(&a, &b));
	map_put_num(val_map_get(&b, "inner", 5), "x", "1");
	ck_assert(!val_equal(&a, &b));
	val_free(&a);
	val_free(&b);
}
END_TEST

START_TEST(test_cmp_orders_strings_by_bytes)
{
	struct val a, b;

	mk_str(&a, "a");
	mk_str(&b, "ab");
	ck_assert_int_lt(val_cmp(&a, &b), 0);
	ck_assert_int_gt(val_cmp(&b, &a), 0);
	val_free(&b);
	mk_str(&b, "\xc3\xa9"); /* é sorts after every ASCII byte */
	ck_assert_int_lt(val_cmp(&a, &b), 0);
	val_free(&b);
	mk_str(&b, "a");
	ck_assert_int_eq(val_cmp(&a, &b), 0);
	val_free(&a);
	val_free(&b);
}
END_TEST

START_TEST(test_cmp_orders_binary_unsigned)
{
	struct val a, b;

	val_init_bin(&a, "\x7f", 1);
	val_init_bin(&b, "\x80", 1);
	ck_assert_int_lt(val_cmp(&a, &b), 0);
	val_free(&a);
	val_free(&b);
}
END_TEST

START_TEST(test_cmp_orders_numbers_numerically)
{
	struct val a, b;

	mk_num(&a, "9");
	mk_num(&b, "10");
	ck_assert_int_lt(val_cmp(&a, &b), 0);
	mk_num(&a, "-10");
	ck_assert_int_lt(val_cmp(&a, &b), 0);
	mk_str(&b, "x");
	ck_assert_int_eq(val_cmp(&a, &b), 0); /* different types: meaningless, 0 */
	val_free(&b);
}
END_TEST

/* ---- val_check ---- */

static void assert_check_fails(const struct val *v, const char *msg_part, const char *path)
{
	struct dyn_err e;

	err_clear(&e);
	ck_assert_int_eq(val_check(v, &e), -EINVAL);
	ck_assert_int_eq(e.code, EINVAL);
	ck_assert_msg(strstr(e.msg, msg_part), "message \"%s\" lacks \"%s\"", e.msg, msg_part);
	ck_assert_str_eq(e.path, path);
}

START_TEST(test_check_accepts_valid_tree)
{
	struct val m;
	struct dyn_err e;

	build_tree(&m);
	err_clear(&e);
	ck_assert_int_eq(val_check(&m, &e), 0);
	ck_assert_int_eq(e.code, 0);
	val_free(&m);
}
END_TEST

START_TEST(test_check_rejects_unsorted_map)
{
	struct val m;
	struct val_attr t;

	build_tree(&m);
	t = m.m.a[0];
	m.m.a[0] = m.m.a[1];
	m.m.a[1] = t;
	assert_check_fails(&m, "not sorted", "");
	m.m.a[1] = m.m.a[0];
	m.m.a[0] = t;
	val_free(&m);
}
END_TEST

START_TEST(test_check_rejects_duplicate_attribute_with_path)
{
	struct val m, *in;
	char *saved;

	build_tree(&m);
	in = val_map_get(&m, "inner", 5);
	map_put_str(in, "y", "z");
	saved = in->m.a[1].name;
	in->m.a[1].name = (char *)"x";
	assert_check_fails(&m, "duplicate attribute \"x\"", "inner");
	in->m.a[1].name = saved;
	val_free(&m);
}
END_TEST

START_TEST(test_check_rejects_bad_utf8_with_list_path)
{
	struct val m, *l, *el, s;

	build_tree(&m);
	l = val_map_get(&m, "scores", 6);
	ck_assert_int_eq(val_init_str(&s, "\xff", 1), 0);
	el = &l->l.v[2];
	val_free(el);
	val_move(el, &s);
	assert_check_fails(&m, "not valid UTF-8", "scores[2]");
	val_free(&m);
}
END_TEST

START_TEST(test_check_rejects_empty_set)
{
	struct val m, s;

	val_init_map(&m);
	val_init_set(&s, VAL_NS);
	val_map_set(&m, "a", 1, &s);
	assert_check_fails(&m, "number set is empty", "a");
	val_free(&m);
}
END_TEST

START_TEST(test_check_rejects_set_with_wrong_element)
{
	struct val s;

	val_init_set(&s, VAL_SS);
	set_add_str(&s, "a");
	s.l.v[0].type = VAL_B;
	assert_check_fails(&s, "string set holds a B element", "");
	val_free(&s);
}
END_TEST

START_TEST(test_check_rejects_duplicate_set_element)
{
	struct val s;

	val_init_set(&s, VAL_SS);
	set_add_str(&s, "a");
	set_add_str(&s, "x");
	s.l.v[0].s.p[0] = 'x';
	assert_check_fails(&s, "duplicate element \"x\" in string set", "");
	val_free(&s);
}
END_TEST

START_TEST(test_check_rejects_unsorted_set)
{
	struct val s, t;

	val_init_set(&s, VAL_NS);
	set_add_num(&s, "1");
	set_add_num(&s, "2");
	t = s.l.v[0];
	s.l.v[0] = s.l.v[1];
	s.l.v[1] = t;
	assert_check_fails(&s, "not sorted", "");
	val_free(&s);
}
END_TEST

START_TEST(test_check_rejects_noncanonical_number)
{
	struct val m, *n;

	build_tree(&m);
	n = val_map_get(&m, "level", 5);
	n->n.digit[1] = 0;
	n->n.ndigits = 2; /* trailing zero digit */
	assert_check_fails(&m, "canonical", "level");
	val_free(&m);
}
END_TEST

START_TEST(test_check_rejects_nul_in_name)
{
	struct val m;

	val_init_map(&m);
	map_put_str(&m, "ab", "x");
	m.m.a[0].name[1] = 0;
	assert_check_fails(&m, "NUL", "");
	val_free(&m);
}
END_TEST

START_TEST(test_check_builds_nested_path)
{
	struct val m, l, inner, s;

	val_init_map(&m);
	val_init_list(&l);
	val_init_map(&inner);
	val_init_str(&s, "\xc0\x80", 2);
	val_map_set(&inner, "deep", 4, &s);
	val_list_append(&l, &inner);
	val_map_set(&m, "a", 1, &l);
	assert_check_fails(&m, "UTF-8", "a[0].deep");
	val_free(&m);
}
END_TEST

/* ---- UTF-8 ---- */

START_TEST(test_utf8_accepts_multibyte)
{
	static const char *const ok[] = {
	    "",
	    "plain ascii",
	    "caf\xc3\xa9",
	    "\xe2\x82\xac",
	    "\xf0\x9f\x98\x80",
	    "\xef\xbf\xbf",
	    "\xf4\x8f\xbf\xbf",
	    "\xed\x9f\xbf",
	    "\xc2\x80",
	    "long ascii run before \xc3\xa9 and after ..........",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_msg(val_utf8_valid(ok[i], strlen(ok[i])), "case %zu", i);
	ck_assert(val_utf8_valid("a\0b", 3));
}
END_TEST

START_TEST(test_utf8_rejects_overlongs)
{
	ck_assert(!val_utf8_valid("\xc0\x80", 2));
	ck_assert(!val_utf8_valid("\xc1\xbf", 2));
	ck_assert(!val_utf8_valid("\xe0\x80\x80", 3));
	ck_assert(!val_utf8_valid("\xe0\x9f\xbf", 3));
	ck_assert(!val_utf8_valid("\xf0\x80\x80\x80", 4));
	ck_assert(!val_utf8_valid("\xf0\x8f\xbf\xbf", 4));
}
END_TEST

START_TEST(test_utf8_rejects_surrogates)
{
	ck_assert(!val_utf8_valid("\xed\xa0\x80", 3));
	ck_assert(!val_utf8_valid("\xed\xbf\xbf", 3));
	ck_assert(!val_utf8_valid("\xed\xa0\xbd\xed\xb8\x80", 6));
}
END_TEST

START_TEST(test_utf8_rejects_beyond_10ffff)
{
	ck_assert(!val_utf8_valid("\xf4\x90\x80\x80", 4));
	ck_assert(!val_utf8_valid("\xf5\x80\x80\x80", 4));
	ck_assert(!val_utf8_valid("\xff", 1));
}
END_TEST

START_TEST(test_utf8_rejects_truncated_and_stray)
{
	ck_assert(!val_utf8_valid("\xc3", 1));
	ck_assert(!val_utf8_valid("\xe2\x82", 2));
	ck_assert(!val_utf8_valid("\xf0\x9f\x98", 3));
	ck_assert(!val_utf8_valid("\x80", 1));
	ck_assert(!val_utf8_valid("abcdefgh\xbf", 9));
	ck_assert(!val_utf8_valid("\xc3\x28", 2));
	ck_assert(!val_utf8_valid("\xe2\x28\xa1", 3));
}
END_TEST

Suite *val_suite(void);
Suite *val_suite(void)
{
	Suite *s = suite_create("val");
	TCase *tc;

	tc = tcase_create("val_type");
	tcase_add_test(tc, test_type_names_round_trip);
	tcase_add_test(tc, test_type_from_name_rejects_unknown);
	tcase_add_test(tc, test_type_predicates);
	suite_add_tcase(s, tc);

	tc = tcase_create("val_init");
	tcase_add_test(tc, test_init_str_copies_and_terminates);
	tcase_add_test(tc, test_init_bin_keeps_nul_bytes);
	tcase_add_test(tc, test_copy_is_deep);
	tcase_add_test(tc, test_move_leaves_source_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("val_map");
	tcase_add_test(tc, test_map_keeps_names_sorted);
	tcase_add_test(tc, test_map_set_replaces_value);
	tcase_add_test(tc, test_map_get_finds_by_length);
	tcase_add_test(tc, test_map_get_on_many_attributes);
	tcase_add_test(tc, test_map_remove_reports_presence);
	suite_add_tcase(s, tc);

	tc = tcase_create("val_set");
	tcase_add_test(tc, test_set_add_keeps_strings_sorted_and_unique);
	tcase_add_test(tc, test_set_add_orders_numbers_numerically);
	tcase_add_test(tc, test_set_add_orders_binary_unsigned);
	tcase_add_test(tc, test_set_add_rejects_wrong_type);
	tcase_add_test(tc, test_set_find_and_remove);
	suite_add_tcase(s, tc);

	tc = tcase_create("val_equal");
	tcase_add_test(tc, test_equal_compares_numbers_numerically);
	tcase_add_test(tc, test_equal_compares_sets_as_sets);
	tcase_add_test(tc, test_equal_respects_list_order);
	tcase_add_test(tc, test_equal_compares_maps_deeply);
	suite_add_tcase(s, tc);

	tc = tcase_create("val_cmp");
	tcase_add_test(tc, test_cmp_orders_strings_by_bytes);
	tcase_add_test(tc, test_cmp_orders_binary_unsigned);
	tcase_add_test(tc, test_cmp_orders_numbers_numerically);
	suite_add_tcase(s, tc);

	tc = tcase_create("val_check");
	tcase_add_test(tc, test_check_accepts_valid_tree);
	tcase_add_test(tc, test_check_rejects_unsorted_map);
	tcase_add_test(tc, test_check_rejects_duplicate_attribute_with_path);
	tcase_add_test(tc, test_check_rejects_bad_utf8_with_list_path);
	tcase_add_test(tc, test_check_rejects_empty_set);
	tcase_add_test(tc, test_check_rejects_set_with_wrong_element);
	tcase_add_test(tc, test_check_rejects_duplicate_set_element);
	tcase_add_test(tc, test_check_rejects_unsorted_set);
	tcase_add_test(tc, test_check_rejects_noncanonical_number);
	tcase_add_test(tc, test_check_rejects_nul_in_name);
	tcase_add_test(tc, test_check_builds_nested_path);
	suite_add_tcase(s, tc);

	tc = tcase_create("val_utf8_valid");
	tcase_add_test(tc, test_utf8_accepts_multibyte);
	tcase_add_test(tc, test_utf8_rejects_overlongs);
	tcase_add_test(tc, test_utf8_rejects_surrogates);
	tcase_add_test(tc, test_utf8_rejects_beyond_10ffff);
	tcase_add_test(tc, test_utf8_rejects_truncated_and_stray);
	suite_add_tcase(s, tc);
	return s;
}
