/*
 * check_remote_creds.c - the remote client's credentials and region
 * (remote/creds.c): INI and JSON parsing as pure functions, then the
 * chain itself with a temporary HOME and environment (environment beats
 * profile, AWS_PROFILE, [profile x] in config, credential_process with
 * an Expiration, the shared-file variables, region sources).  Nothing
 * here opens a socket: IMDS is disabled in every chain test
 * (AWS_EC2_METADATA_DISABLED); the IMDS and ECS stubs run in
 * tests/remote/run.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fix_file.h"
#include "remoteint.h"

START_TEST(test_ini_get_sections_comments_spaces)
{
	const char *t = "# c\n[default]\naws_access_key_id = AK1\n\n[profile dev]\n"
			"  region=eu-west-1  \n; other\n[dev]\nregion = wrong\r\n";
	char *v;

	ck_assert_int_eq(rmt_ini_get(t, "default", "aws_access_key_id", &v), 0);
	ck_assert_str_eq(v, "AK1");
	free(v);
	ck_assert_int_eq(rmt_ini_get(t, "profile dev", "region", &v), 0);
	ck_assert_str_eq(v, "eu-west-1");
	free(v);
	ck_assert_int_eq(rmt_ini_get(t, "dev", "region", &v), 0);
	ck_assert_str_eq(v, "wrong");
	free(v);
	ck_assert_int_eq(rmt_ini_get(t, "default", "region", &v), -ENOENT);
	ck_assert_int_eq(rmt_ini_get(t, "nope", "region", &v), -ENOENT);
}
END_TEST

/* A lone \r ends a line, as in Python's universal newlines (botocore):
 * the file below gives id "A" and region "x" there too. */
START_TEST(test_ini_get_carriage_returns)
{
	const char *t = "[default]\r\naws_access_key_id = A\rregion = x\r\n";
	char *v;

	ck_assert_int_eq(rmt_ini_get(t, "default", "aws_access_key_id", &v), 0);
	ck_assert_str_eq(v, "A");
	free(v);
	ck_assert_int_eq(rmt_ini_get(t, "default", "region", &v), 0);
	ck_assert_str_eq(v, "x");
	free(v);
}
END_TEST

START_TEST(test_iso8601)
{
	ck_assert_int_eq(rmt_parse_iso8601("1970-01-01T00:01:00Z"), 60);
	ck_assert_int_eq(rmt_parse_iso8601("1970-01-01T00:01:00.123Z"), 60);
	ck_assert_int_eq(rmt_parse_iso8601("1970-01-01T01:01:00+01:00"), 60);
	ck_assert_int_eq(rmt_parse_iso8601("1970-01-01T00:01:00-00:30"), 60 + 1800);
	ck_assert_int_eq(rmt_parse_iso8601("1970-01-01 00:01:00"), -1);
	ck_assert_int_eq(rmt_parse_iso8601("1970-01-01T00:01:00"), -1);
}
END_TEST

START_TEST(test_creds_json_process_and_imds_forms)
{
	const char *p = "{\"Version\": 1, \"AccessKeyId\": \"AK\", \"SecretAccessKey\": \"SK\","
			" \"SessionToken\": \"TOK\", \"Expiration\": \"1970-01-01T00:02:00Z\"}";
	const char *i = "{\"Code\": \"Success\", \"AccessKeyId\": \"AK2\", \"SecretAccessKey\": "
			"\"SK2\", \"Token\": \"T2\", \"Expiration\": \"1970-01-01T00:00:10Z\"}";
	struct rmt_creds c;
	struct dyn_err err;

	ck_assert_int_eq(rmt_creds_parse_json(p, strlen(p), &c, NULL), 0);
	ck_assert_str_eq(c.id, "AK");
	ck_assert_str_eq(c.secret, "SK");
	ck_assert_str_eq(c.token, "TOK");
	ck_assert_int_eq(c.expires, 120);
	rmt_creds_free(&c);
	ck_assert_int_eq(rmt_creds_parse_json(i, strlen(i), &c, NULL), 0);
	ck_assert_str_eq(c.token, "T2");
	ck_assert_int_eq(c.expires, 10);
	rmt_creds_free(&c);
	err_clear(&err);
	const char *v2 = "{\"Version\":2,\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"b\"}";
	const char *nokey = "{\"AccessKeyId\":\"a\"}";
	const char *badexp =
	    "{\"AccessKeyId\":\"a\",\"SecretAccessKey\":\"b\",\"Expiration\":\"soon\"}";

	ck_assert_int_eq(rmt_creds_parse_json(v2, strlen(v2), &c, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "Version"));
	ck_assert_int_eq(rmt_creds_parse_json(nokey, strlen(nokey), &c, NULL), -EINVAL);
	ck_assert_int_eq(rmt_creds_parse_json("[]", 2, &c, NULL), -EINVAL);
	ck_assert_int_eq(rmt_creds_parse_json(badexp, strlen(badexp), &c, NULL), -EINVAL);
}
END_TEST

/* ---- the chain, in a temporary HOME ---- */

static char home[64];
static char *saved_home; /* CK_FORK=no runs every suite in one process */

static void chain_setup(void)
{
	char p[128];

	saved_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	snprintf(home, sizeof(home), "/tmp/dynfs-creds-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(home));
	snprintf(p, sizeof(p), "%s/.aws", home);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	setenv("HOME", home, 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	unsetenv("AWS_CONFIG_FILE");
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_DYNAMODB");
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
}

static void chain_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", home);
	ck_assert_int_eq(system(cmd), 0);
	if (saved_home)
		setenv("HOME", saved_home, 1);
	else
		unsetenv("HOME");
	free(saved_home);
	unsetenv("AWS_EC2_METADATA_DISABLED");
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_DYNAMODB");
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
}

static void write_home(const char *name, const char *text)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/.aws/%s", home, name);
	spit(p, text, strlen(text));
}

static const struct rmt_chain local = {NULL, true, 200};

START_TEST(test_chain_none_is_enoent)
{
	struct rmt_creds c;

	ck_assert_int_eq(rmt_creds_resolve(&local, &c, NULL), -ENOENT);
}
END_TEST

START_TEST(test_chain_env_beats_profile)
{
	struct rmt_creds c;

	write_home("credentials", "[default]\naws_access_key_id=FILE\naws_secret_access_key=S\n");
	setenv("AWS_ACCESS_KEY_ID", "ENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "ES", 1);
	setenv("AWS_SESSION_TOKEN", "ET", 1);
	ck_assert_int_eq(rmt_creds_resolve(&local, &c, NULL), 0);
	ck_assert_str_eq(c.id, "ENV");
	ck_assert_str_eq(c.token, "ET");
	ck_assert_str_eq(c.source, "env");
	rmt_creds_free(&c);
	unsetenv("AWS_ACCESS_KEY_ID");
	ck_assert_int_eq(rmt_creds_resolve(&local, &c, NULL), 0);
	ck_assert_str_eq(c.id, "FILE");
	ck_assert_ptr_null(c.token);
	ck_assert_str_eq(c.source, "profile");
	rmt_creds_free(&c);
}
END_TEST

START_TEST(test_chain_profiles_and_files)
{
	struct rmt_chain ch = local;
	struct rmt_creds c;
	char p[128];

	write_home("credentials", "[default]\naws_access_key_id=D\naws_secret_access_key=S\n"
				  "[work]\naws_access_key_id=W\naws_secret_access_key=S\n"
				  "aws_session_token=WT\n");
	write_home("config", "[profile cfg]\naws_access_key_id=C\naws_secret_access_key=S\n"
			     "region=ap-south-1\n[default]\nregion=eu-north-1\n");
	setenv("AWS_PROFILE", "work", 1);
	ck_assert_int_eq(rmt_creds_resolve(&ch, &c, NULL), 0);
	ck_assert_str_eq(c.id, "W");
	ck_assert_str_eq(c.token, "WT");
	rmt_creds_free(&c);
	ch.profile = "cfg"; /* an explicit profile beats AWS_PROFILE; config's [profile x] */
	ck_assert_int_eq(rmt_creds_resolve(&ch, &c, NULL), 0);
	ck_assert_str_eq(c.id, "C");
	rmt_creds_free(&c);
	ch.profile = "missing";
	ck_assert_int_eq(rmt_creds_resolve(&ch, &c, NULL), -ENOENT);
	/* AWS_SHARED_CREDENTIALS_FILE replaces ~/.aws/credentials */
	snprintf(p, sizeof(p), "%s/other", home);
	spit(p, "[missing]\naws_access_key_id=O\naws_secret_access_key=S\n",
	     strlen("[missing]\naws_access_key_id=O\naws_secret_access_key=S\n"));
	setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
	ck_assert_int_eq(rmt_creds_resolve(&ch, &c, NULL), 0);
	ck_assert_str_eq(c.id, "O");
	rmt_creds_free(&c);
}
END_TEST

START_TEST(test_chain_credential_process)
{
	struct rmt_chain ch = local;
	struct rmt_creds c;
	struct dyn_err err;
	char text[512];

	snprintf(text, sizeof(text),
		 "[profile proc]\ncredential_process = printf '{\"Version\":1,\"AccessKeyId\":"
		 "\"P\",\"SecretAccessKey\":\"PS\",\"SessionToken\":\"PT\",\"Expiration\":"
		 "\"2030-01-01T00:00:00Z\"}'\n[profile bad]\ncredential_process = false\n");
	write_home("config", text);
	ch.profile = "proc";
	ck_assert_int_eq(rmt_creds_resolve(&ch, &c, NULL), 0);
	ck_assert_str_eq(c.id, "P");
	ck_assert_str_eq(c.token, "PT");
	ck_assert_str_eq(c.source, "process");
	ck_assert_int_eq(c.expires, 1893456000);
	rmt_creds_free(&c);
	ch.profile = "bad";
	err_clear(&err);
	ck_assert_int_eq(rmt_creds_resolve(&ch, &c, &err), -EACCES);
	ck_assert_ptr_nonnull(strstr(err.msg, "credential_process"));
}
END_TEST

START_TEST(test_region_sources)
{
	char *r;

	ck_assert_int_eq(rmt_region_resolve(NULL, NULL, &r), -ENOENT);
	write_home("config", "[default]\nregion=eu-north-1\n[profile x]\nregion=sa-east-1\n");
	ck_assert_int_eq(rmt_region_resolve(NULL, NULL, &r), 0);
	ck_assert_str_eq(r, "eu-north-1");
	free(r);
	ck_assert_int_eq(rmt_region_resolve(NULL, "x", &r), 0);
	ck_assert_str_eq(r, "sa-east-1");
	free(r);
	setenv("AWS_DEFAULT_REGION", "us-west-1", 1);
	ck_assert_int_eq(rmt_region_resolve(NULL, "x", &r), 0);
	ck_assert_str_eq(r, "us-west-1");
	free(r);
	setenv("AWS_REGION", "us-west-2", 1);
	ck_assert_int_eq(rmt_region_resolve(NULL, NULL, &r), 0);
	ck_assert_str_eq(r, "us-west-2");
	free(r);
	ck_assert_int_eq(rmt_region_resolve("opt-1", NULL, &r), 0);
	ck_assert_str_eq(r, "opt-1");
	free(r);
}
END_TEST

START_TEST(test_ini_get_sub_nested_service_settings)
{
	const char *t = "[services s]\n"
			"s3 =\n  endpoint_url = http://s3\n"
			"dynamodb =\n  region = x\n\tendpoint_url = http://ddb:8000\n"
			"endpoint_url = http://top\n"
			"[services t]\ndynamodb = flat\n  endpoint_url = http://no\n";
	char *v;

	ck_assert_int_eq(rmt_ini_get_sub(t, "services s", "dynamodb", "endpoint_url", &v), 0);
	ck_assert_str_eq(v, "http://ddb:8000");
	free(v);
	ck_assert_int_eq(rmt_ini_get_sub(t, "services s", "s3", "endpoint_url", &v), 0);
	ck_assert_str_eq(v, "http://s3");
	free(v);
	/* a key with a value of its own has no nested lines */
	ck_assert_int_eq(rmt_ini_get_sub(t, "services t", "dynamodb", "endpoint_url", &v), -ENOENT);
	ck_assert_int_eq(rmt_ini_get_sub(t, "services s", "dynamodb", "other", &v), -ENOENT);
}
END_TEST

START_TEST(test_endpoint_sources)
{
	struct rmt_opts o = {.region = "eu-west-1", .profile = "prod"};
	struct dyn_err err;
	rmt_t *c;
	char *v;

	ck_assert_int_eq(rmt_endpoint_resolve(NULL, &v), -ENOENT);
	write_home("config", "[default]\nendpoint_url = http://def:1\n"
			     "[profile prod]\nservices = local\nendpoint_url = http://prod:2\n"
			     "[profile flat]\nendpoint_url = http://flat:3\n"
			     "[profile off]\nendpoint_url = http://off:4\n"
			     "ignore_configured_endpoint_urls = true\n"
			     "[services local]\ndynamodb =\n  endpoint_url = http://svc:5\n");
	ck_assert_int_eq(rmt_endpoint_resolve(NULL, &v), 0);
	ck_assert_str_eq(v, "http://def:1");
	free(v);
	ck_assert_int_eq(rmt_endpoint_resolve("flat", &v), 0);
	ck_assert_str_eq(v, "http://flat:3");
	free(v);
	/* the profile's services section beats its endpoint_url */
	ck_assert_int_eq(rmt_endpoint_resolve("prod", &v), 0);
	ck_assert_str_eq(v, "http://svc:5");
	free(v);
	ck_assert_int_eq(rmt_endpoint_resolve("off", &v), -ENOENT);
	/* the environment beats the files; the service's variable the general one */
	setenv("AWS_ENDPOINT_URL", "http://env:6", 1);
	ck_assert_int_eq(rmt_endpoint_resolve("prod", &v), 0);
	ck_assert_str_eq(v, "http://env:6");
	free(v);
	setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9", 1);
	ck_assert_int_eq(rmt_endpoint_resolve("prod", &v), 0);
	ck_assert_str_eq(v, "http://127.0.0.1:9");
	free(v);
	ck_assert_int_eq(rmt_endpoint_resolve("off", &v), -ENOENT);
	/* the environment's "false" beats the profile's "true" */
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false", 1);
	ck_assert_int_eq(rmt_endpoint_resolve("off", &v), 0);
	ck_assert_str_eq(v, "http://127.0.0.1:9");
	free(v);
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	/* dynamodb://REGION opens the configured endpoint, signing for REGION */
	err_clear(&err);
	ck_assert_int_eq(rmt_open(&o, &c, &err), 0);
	ck_assert_str_eq(c->host, "127.0.0.1:9");
	ck_assert_str_eq(c->region, "eu-west-1");
	rmt_close(c);
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE", 1);
	ck_assert_int_eq(rmt_endpoint_resolve("prod", &v), -ENOENT);
	ck_assert_int_eq(rmt_open(&o, &c, &err), -EACCES); /* AWS itself: no credentials */
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	setenv("AWS_ENDPOINT_URL_DYNAMODB", "ftp://x", 1);
	err_clear(&err);
	ck_assert_int_eq(rmt_open(&o, &c, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "AWS_ENDPOINT_URL_DYNAMODB"));
}
END_TEST

START_TEST(test_open_local_endpoint_uses_dummy_credentials)
{
	struct rmt_opts o = {.endpoint = "http://127.0.0.1:9"};
	struct dyn_err err;
	rmt_t *c;

	err_clear(&err);
	ck_assert_int_eq(rmt_open(&o, &c, &err), 0);
	ck_assert_str_eq(c->creds.source, "dummy");
	ck_assert_str_eq(c->region, "us-east-1");
	ck_assert_str_eq(c->host, "127.0.0.1:9");
	rmt_close(c);
	o.endpoint = "ftp://x";
	ck_assert_int_eq(rmt_open(&o, &c, &err), -EINVAL);
}
END_TEST

Suite *remote_creds_suite(void);
Suite *remote_creds_suite(void)
{
	Suite *s = suite_create("remote_creds");
	TCase *tc = tcase_create("parse");
	TCase *ch = tcase_create("chain");

	tcase_add_test(tc, test_ini_get_sections_comments_spaces);
	tcase_add_test(tc, test_ini_get_carriage_returns);
	tcase_add_test(tc, test_ini_get_sub_nested_service_settings);
	tcase_add_test(tc, test_iso8601);
	tcase_add_test(tc, test_creds_json_process_and_imds_forms);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(ch, chain_setup, chain_teardown);
	tcase_add_test(ch, test_chain_none_is_enoent);
	tcase_add_test(ch, test_chain_env_beats_profile);
	tcase_add_test(ch, test_chain_profiles_and_files);
	tcase_add_test(ch, test_chain_credential_process);
	tcase_add_test(ch, test_region_sources);
	tcase_add_test(ch, test_endpoint_sources);
	tcase_add_test(ch, test_open_local_endpoint_uses_dummy_credentials);
	suite_add_tcase(s, ch);
	return s;
}
