-- Botschaft release 1 (commit e7c2669): the database of the core and every built-in plugin on PostgreSQL,
-- with a little data, for tests/test_upgrade.py to migrate forward. Made by tests/schemas/make_dump.py (pg_dump --no-owner --no-privileges DATABASE).
--
-- PostgreSQL database dump
--

\restrict F6tirBDj5OsW3JcuxTfzs49J7UebPynyoep8ppc9eIoyGBLL5pqXCQQqRlJypMW

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: bots_consent; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.bots_consent (
    id integer NOT NULL,
    jid character varying(3071) NOT NULL,
    purpose character varying(64) NOT NULL,
    text_version character varying(64) NOT NULL,
    channel character varying(32) NOT NULL,
    given_at timestamp without time zone NOT NULL,
    withdrawn_at timestamp without time zone
);


--
-- Name: bots_consent_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.bots_consent_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: bots_consent_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.bots_consent_id_seq OWNED BY public.bots_consent.id;


--
-- Name: bots_erasure; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.bots_erasure (
    id integer NOT NULL,
    at timestamp without time zone NOT NULL,
    by character varying(200) NOT NULL,
    parts text NOT NULL
);


--
-- Name: bots_erasure_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.bots_erasure_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: bots_erasure_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.bots_erasure_id_seq OWNED BY public.bots_erasure.id;


--
-- Name: bots_invitation; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.bots_invitation (
    id integer NOT NULL,
    token_hash character varying(64) NOT NULL,
    actions text NOT NULL,
    note character varying(200) NOT NULL,
    created_by character varying(3071) NOT NULL,
    created_at timestamp without time zone NOT NULL,
    expires_at timestamp without time zone NOT NULL,
    used_at timestamp without time zone,
    used_by character varying(3071),
    revoked_at timestamp without time zone
);


--
-- Name: bots_invitation_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.bots_invitation_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: bots_invitation_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.bots_invitation_id_seq OWNED BY public.bots_invitation.id;


--
-- Name: bots_outbox; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.bots_outbox (
    id integer NOT NULL,
    key character varying(255) NOT NULL,
    origin_id character varying(36) NOT NULL,
    recipient character varying(3071) NOT NULL,
    body text NOT NULL,
    state character varying(8) NOT NULL,
    attempts integer NOT NULL,
    created_at timestamp without time zone NOT NULL,
    sent_at timestamp without time zone,
    done_at timestamp without time zone,
    error text,
    stream character varying(255),
    seq bigint
);


--
-- Name: bots_outbox_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.bots_outbox_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: bots_outbox_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.bots_outbox_id_seq OWNED BY public.bots_outbox.id;


--
-- Name: bots_person_setting; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.bots_person_setting (
    jid character varying(3071) NOT NULL,
    language character varying(8)
);


--
-- Name: bots_schedule; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.bots_schedule (
    id integer NOT NULL,
    job character varying(200) NOT NULL,
    key character varying(200) NOT NULL,
    next_due_at timestamp without time zone NOT NULL,
    every_seconds integer,
    daily_at character varying(5),
    timezone character varying(64),
    payload text NOT NULL,
    last_run_at timestamp without time zone,
    runs integer NOT NULL,
    failures integer NOT NULL
);


--
-- Name: bots_schedule_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.bots_schedule_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: bots_schedule_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.bots_schedule_id_seq OWNED BY public.bots_schedule.id;


--
-- Name: lessons_course; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.lessons_course (
    id integer NOT NULL,
    slug character varying(64) NOT NULL,
    title character varying(200) NOT NULL,
    language character varying(8) NOT NULL,
    description text NOT NULL,
    "time" character varying(5),
    timezone character varying(64),
    imported_at timestamp without time zone NOT NULL
);


--
-- Name: lessons_course_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.lessons_course_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: lessons_course_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.lessons_course_id_seq OWNED BY public.lessons_course.id;


--
-- Name: lessons_delivery; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.lessons_delivery (
    id integer NOT NULL,
    subscription_id integer NOT NULL,
    lesson_id integer NOT NULL,
    delivered_at timestamp without time zone NOT NULL
);


--
-- Name: lessons_delivery_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.lessons_delivery_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: lessons_delivery_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.lessons_delivery_id_seq OWNED BY public.lessons_delivery.id;


--
-- Name: lessons_lesson; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.lessons_lesson (
    id integer NOT NULL,
    course_id integer NOT NULL,
    slug character varying(64) NOT NULL,
    "position" integer NOT NULL,
    title character varying(200) NOT NULL,
    text text NOT NULL,
    link text,
    image text,
    quiz text,
    retired boolean NOT NULL
);


--
-- Name: lessons_lesson_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.lessons_lesson_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: lessons_lesson_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.lessons_lesson_id_seq OWNED BY public.lessons_lesson.id;


--
-- Name: lessons_quiz_answer; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.lessons_quiz_answer (
    id integer NOT NULL,
    subscription_id integer NOT NULL,
    lesson_id integer NOT NULL,
    choice integer NOT NULL,
    correct boolean NOT NULL,
    answered_at timestamp without time zone NOT NULL
);


--
-- Name: lessons_quiz_answer_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.lessons_quiz_answer_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: lessons_quiz_answer_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.lessons_quiz_answer_id_seq OWNED BY public.lessons_quiz_answer.id;


--
-- Name: lessons_subscription; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.lessons_subscription (
    id integer NOT NULL,
    jid character varying(3071) NOT NULL,
    course_id integer NOT NULL,
    state character varying(10) NOT NULL,
    "time" character varying(5) NOT NULL,
    timezone character varying(64) NOT NULL,
    language character varying(8) NOT NULL,
    subscribed_at timestamp without time zone NOT NULL,
    ended_at timestamp without time zone
);


--
-- Name: lessons_subscription_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.lessons_subscription_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: lessons_subscription_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.lessons_subscription_id_seq OWNED BY public.lessons_subscription.id;


--
-- Name: migrations_bots; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.migrations_bots (
    id integer NOT NULL,
    name character varying(255) NOT NULL,
    applied timestamp without time zone NOT NULL
);


--
-- Name: migrations_bots_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.migrations_bots_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: migrations_bots_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.migrations_bots_id_seq OWNED BY public.migrations_bots.id;


--
-- Name: migrations_outbox; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.migrations_outbox (
    id integer NOT NULL,
    name character varying(255) NOT NULL,
    applied timestamp without time zone NOT NULL
);


--
-- Name: migrations_outbox_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.migrations_outbox_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: migrations_outbox_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.migrations_outbox_id_seq OWNED BY public.migrations_outbox.id;


--
-- Name: migrations_scheduler; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.migrations_scheduler (
    id integer NOT NULL,
    name character varying(255) NOT NULL,
    applied timestamp without time zone NOT NULL
);


--
-- Name: migrations_scheduler_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.migrations_scheduler_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: migrations_scheduler_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.migrations_scheduler_id_seq OWNED BY public.migrations_scheduler.id;


--
-- Name: migrations_status; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.migrations_status (
    id integer NOT NULL,
    name character varying(255) NOT NULL,
    applied timestamp without time zone NOT NULL
);


--
-- Name: migrations_status_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.migrations_status_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: migrations_status_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.migrations_status_id_seq OWNED BY public.migrations_status.id;


--
-- Name: rooms_member; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rooms_member (
    id integer NOT NULL,
    room_id integer NOT NULL,
    jid character varying(3071) NOT NULL,
    state character varying(10) NOT NULL,
    language character varying(8) NOT NULL,
    invited_at timestamp without time zone NOT NULL,
    joined_at timestamp without time zone
);


--
-- Name: rooms_member_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.rooms_member_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: rooms_member_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.rooms_member_id_seq OWNED BY public.rooms_member.id;


--
-- Name: rooms_room; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rooms_room (
    id integer NOT NULL,
    slug character varying(64) NOT NULL,
    name character varying(200) NOT NULL,
    description text NOT NULL,
    course character varying(64),
    trainer character varying(3071),
    language character varying(8) NOT NULL,
    state character varying(10) NOT NULL,
    destroy_after timestamp without time zone,
    welcomed_at timestamp without time zone,
    created_at timestamp without time zone NOT NULL
);


--
-- Name: rooms_room_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.rooms_room_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: rooms_room_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.rooms_room_id_seq OWNED BY public.rooms_room.id;


--
-- Name: status_change; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.status_change (
    id integer NOT NULL,
    item_id integer NOT NULL,
    state character varying(32) NOT NULL,
    note text,
    source character varying(16) NOT NULL,
    changed_at timestamp without time zone NOT NULL
);


--
-- Name: status_change_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.status_change_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: status_change_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.status_change_id_seq OWNED BY public.status_change.id;


--
-- Name: status_claim_attempt; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.status_claim_attempt (
    id integer NOT NULL,
    jid character varying(3071) NOT NULL,
    ref character varying(64) NOT NULL,
    at timestamp without time zone NOT NULL
);


--
-- Name: status_claim_attempt_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.status_claim_attempt_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: status_claim_attempt_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.status_claim_attempt_id_seq OWNED BY public.status_claim_attempt.id;


--
-- Name: status_feed_event; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.status_feed_event (
    id integer NOT NULL,
    event_id character varying(200) NOT NULL,
    ref character varying(64),
    received_at timestamp without time zone NOT NULL
);


--
-- Name: status_feed_event_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.status_feed_event_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: status_feed_event_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.status_feed_event_id_seq OWNED BY public.status_feed_event.id;


--
-- Name: status_item; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.status_item (
    id integer NOT NULL,
    ref character varying(64) NOT NULL,
    kind character varying(32) NOT NULL,
    state character varying(32) NOT NULL,
    code character varying(16) NOT NULL,
    closed boolean NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);


--
-- Name: status_item_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.status_item_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: status_item_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.status_item_id_seq OWNED BY public.status_item.id;


--
-- Name: status_watcher; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.status_watcher (
    id integer NOT NULL,
    item_id integer NOT NULL,
    jid character varying(3071) NOT NULL,
    language character varying(8),
    claimed_at timestamp without time zone NOT NULL
);


--
-- Name: status_watcher_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.status_watcher_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: status_watcher_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.status_watcher_id_seq OWNED BY public.status_watcher.id;


--
-- Name: bots_consent id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bots_consent ALTER COLUMN id SET DEFAULT nextval('public.bots_consent_id_seq'::regclass);


--
-- Name: bots_erasure id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bots_erasure ALTER COLUMN id SET DEFAULT nextval('public.bots_erasure_id_seq'::regclass);


--
-- Name: bots_invitation id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bots_invitation ALTER COLUMN id SET DEFAULT nextval('public.bots_invitation_id_seq'::regclass);


--
-- Name: bots_outbox id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bots_outbox ALTER COLUMN id SET DEFAULT nextval('public.bots_outbox_id_seq'::regclass);


--
-- Name: bots_schedule id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bots_schedule ALTER COLUMN id SET DEFAULT nextval('public.bots_schedule_id_seq'::regclass);


--
-- Name: lessons_course id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lessons_course ALTER COLUMN id SET DEFAULT nextval('public.lessons_course_id_seq'::regclass);


--
-- Name: lessons_delivery id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lessons_delivery ALTER COLUMN id SET DEFAULT nextval('public.lessons_delivery_id_seq'::regclass);


--
-- Name: lessons_lesson id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lessons_lesson ALTER COLUMN id SET DEFAULT nextval('public.lessons_lesson_id_seq'::regclass);


--
-- Name: lessons_quiz_answer id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lessons_quiz_answer ALTER COLUMN id SET DEFAULT nextval('public.lessons_quiz_answer_id_seq'::regclass);


--
-- Name: lessons_subscription id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lessons_subscription ALTER COLUMN id SET DEFAULT nextval('public.lessons_subscription_id_seq'::regclass);


--
-- Name: migrations_bots id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.migrations_bots ALTER COLUMN id SET DEFAULT nextval('public.migrations_bots_id_seq'::regclass);


--
-- Name: migrations_outbox id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.migrations_outbox ALTER COLUMN id SET DEFAULT nextval('public.migrations_outbox_id_seq'::regclass);


--
-- Name: migrations_scheduler id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.migrations_scheduler ALTER COLUMN id SET DEFAULT nextval('public.migrations_scheduler_id_seq'::regclass);


--
-- Name: migrations_status id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.migrations_status ALTER COLUMN id SET DEFAULT nextval('public.migrations_status_id_seq'::regclass);


--
-- Name: rooms_member id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rooms_member ALTER COLUMN id SET DEFAULT nextval('public.rooms_member_id_seq'::regclass);


--
-- Name: rooms_room id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rooms_room ALTER COLUMN id SET DEFAULT nextval('public.rooms_room_id_seq'::regclass);


--
-- Name: status_change id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.status_change ALTER COLUMN id SET DEFAULT nextval('public.status_change_id_seq'::regclass);


--
-- Name: status_claim_attempt id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.status_claim_attempt ALTER COLUMN id SET DEFAULT nextval('public.status_claim_attempt_id_seq'::regclass);


--
-- Name: status_feed_event id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.status_feed_event ALTER COLUMN id SET DEFAULT nextval('public.status_feed_event_id_seq'::regclass);


--
-- Name: status_item id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.status_item ALTER COLUMN id SET DEFAULT nextval('public.status_item_id_seq'::regclass);


--
-- Name: status_watcher id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.status_watcher ALTER COLUMN id SET DEFAULT nextval('public.status_watcher_id_seq'::regclass);


--
-- Data for Name: bots_consent; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.bots_consent (id, jid, purpose, text_version, channel, given_at, withdrawn_at) FROM stdin;
1	anna@localhost	lessons.daily:deutsch-alltag	lessons.subscribe.2	xmpp	2026-11-30 17:04:30.25131	\N
2	anna@localhost	status.notify	status.claim.1	xmpp	2026-11-30 17:04:30.293376	\N
3	anna@localhost	rooms.team-nord	rooms.invitation.1	xmpp	2026-11-30 17:04:30.304456	\N
\.


--
-- Data for Name: bots_erasure; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.bots_erasure (id, at, by, parts) FROM stdin;
\.


--
-- Data for Name: bots_invitation; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.bots_invitation (id, token_hash, actions, note, created_by, created_at, expires_at, used_at, used_by, revoked_at) FROM stdin;
\.


--
-- Data for Name: bots_outbox; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.bots_outbox (id, key, origin_id, recipient, body, state, attempts, created_at, sent_at, done_at, error, stream, seq) FROM stdin;
1	rooms:invited:team-nord:anna@localhost:828b24daef544e1191459185f395b7be	ebcbe4c1-96cc-5c1e-9660-0fed68349282	anna@localhost	You are invited to the group chat "Team Nord" (team-nord@conference.localhost). You are the first one invited. It keeps its messages and shared files for 30 days (the room's archive); members see each other's nicknames, the trainer also the addresses.\nTo join, write: join team-nord — to leave later: leave team-nord.\nIf you do not join, you still get the trainer's announcements here and can answer with: reply team-nord <your text>	done	1	2026-11-30 17:04:28.75014	2026-11-30 17:04:30.231031	2026-11-30 17:04:30.241452	\N	g2gCbQAAAA9vdXRib3gtMTE5NmRkZDVtAAAACJyIE6IehGCx	1
2	status:2:anna@localhost	5369bacd-96bb-509c-bdfc-992fd2a872ff	anna@localhost	Fahrzeug 4711: Wir arbeiten an Ihrem Fahrzeug.	pending	0	2026-11-30 17:04:31.820806	\N	\N	\N	\N	\N
3	rooms:invited:team-nord:bert@localhost:4abeeb379766403497061e043a58512c	4375dfb7-9e76-58e6-927f-64cfbf96e4af	bert@localhost	You are invited to the group chat "Team Nord" (team-nord@conference.localhost). 2 people are invited so far. It keeps its messages and shared files for 30 days (the room's archive); members see each other's nicknames, the trainer also the addresses.\nTo join, write: join team-nord — to leave later: leave team-nord.\nIf you do not join, you still get the trainer's announcements here and can answer with: reply team-nord <your text>	pending	0	2026-11-30 17:04:33.001081	\N	\N	\N	\N	\N
\.


--
-- Data for Name: bots_person_setting; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.bots_person_setting (jid, language) FROM stdin;
anna@localhost	de
\.


--
-- Data for Name: bots_schedule; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.bots_schedule (id, job, key, next_due_at, every_seconds, daily_at, timezone, payload, last_run_at, runs, failures) FROM stdin;
1	bots.outbox_retention	plugin	2026-11-30 18:04:30.14729	3600	\N	\N	{}	\N	0	0
2	rooms.destroy_due_rooms	plugin	2026-12-01 02:00:00	\N	03:00	Europe/Berlin	{}	\N	0	0
3	rooms.keep_rooms	plugin	2026-11-30 17:05:30.157873	60	\N	\N	{}	\N	0	0
4	status.forget_old_feed_events	plugin	2026-11-30 18:04:30.160545	3600	\N	\N	{}	\N	0	0
5	status.prune_claim_attempts	plugin	2026-11-30 17:14:30.163338	600	\N	\N	{}	\N	0	0
6	lessons.deliver	subscription:1	2026-12-01 06:30:00	\N	07:30	Europe/Berlin	{}	\N	0	0
\.


--
-- Data for Name: lessons_course; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.lessons_course (id, slug, title, language, description, "time", timezone, imported_at) FROM stdin;
1	deutsch-alltag	Deutsch im Alltag	de	Zwölf kurze Lektionen Deutsch für jeden Tag – vom Grüßen bis zum Notruf.	07:30	Europe/Berlin	2026-11-30 17:04:30.101181
\.


--
-- Data for Name: lessons_delivery; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.lessons_delivery (id, subscription_id, lesson_id, delivered_at) FROM stdin;
\.


--
-- Data for Name: lessons_lesson; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.lessons_lesson (id, course_id, slug, "position", title, text, link, image, quiz, retired) FROM stdin;
1	1	begruessen	1	Begrüßen	Am Morgen sagt man „Guten Morgen!“, am Tag „Guten Tag!“ und am Abend „Guten Abend!“.\nUnter Freunden reicht „Hallo!“. Zum Abschied: „Auf Wiedersehen!“ oder „Tschüss!“.	\N	\N	{"question": "Es ist 8 Uhr morgens. Was sagen Sie beim B\\u00e4cker?", "choices": ["Guten Morgen!", "Gute Nacht!", "Tsch\\u00fcss!"], "answer": 0, "right": "Genau! Bis etwa 11 Uhr sagt man \\u201eGuten Morgen!\\u201c.", "wrong": "Nicht ganz: Am Morgen sagt man \\u201eGuten Morgen!\\u201c."}	f
2	1	vorstellen	2	Sich vorstellen	„Ich heiße Amina.“ – „Ich komme aus Syrien.“ – „Ich wohne in Leipzig.“\nFragen Sie zurück: „Wie heißen Sie?“ und „Woher kommen Sie?“	\N	\N	{"question": "Wie fragen Sie nach dem Namen?", "choices": ["Wie hei\\u00dfen Sie?", "Wo wohnen Sie?", "Wie alt sind Sie?"], "answer": 0, "right": null, "wrong": null}	f
3	1	zahlen	3	Zahlen bis 20	eins, zwei, drei, vier, fünf, sechs, sieben, acht, neun, zehn,\nelf, zwölf, dreizehn, vierzehn, fünfzehn, sechzehn, siebzehn, achtzehn, neunzehn, zwanzig.\nAchtung: „sechzehn“ ohne s, „siebzehn“ ohne en.	\N	\N	{"question": "Welche Zahl ist \\u201esiebzehn\\u201c?", "choices": ["17", "70", "7"], "answer": 0, "right": null, "wrong": null}	f
4	1	uhrzeit	4	Die Uhrzeit	„Wie spät ist es?“ – „Es ist acht Uhr.“ – „Es ist halb neun.“ (= 8:30)\n„Viertel nach acht“ ist 8:15, „Viertel vor neun“ ist 8:45.	\N	\N	{"question": "Was bedeutet \\u201ehalb neun\\u201c?", "choices": ["8:30", "9:30", "9:15"], "answer": 0, "right": "Richtig! \\u201eHalb neun\\u201c ist eine halbe Stunde vor neun.", "wrong": "\\u201eHalb neun\\u201c ist eine halbe Stunde vor neun Uhr: 8:30."}	f
5	1	einkaufen	5	Einkaufen	„Ich hätte gern ein Brot, bitte.“ – „Was kostet das?“ – „Das macht 3,50 Euro.“\nAm Ende: „Kann ich mit Karte zahlen?“	https://www.dw.com/de/deutsch-lernen/s-2055	\N	{"question": "Wie fragen Sie nach dem Preis?", "choices": ["Was kostet das?", "Wie sp\\u00e4t ist es?", "Wo ist das?"], "answer": 0, "right": null, "wrong": null}	f
6	1	arzt	6	Beim Arzt	„Ich brauche einen Termin.“ – „Ich habe Kopfschmerzen.“ – „Mein Bauch tut weh.“\nBringen Sie die Versichertenkarte (Gesundheitskarte) mit.	\N	\N	{"question": "Was bringen Sie zum Arzt mit?", "choices": ["die Gesundheitskarte", "den F\\u00fchrerschein", "die Fahrkarte"], "answer": 0, "right": null, "wrong": null}	f
7	1	weg	7	Nach dem Weg fragen	„Entschuldigung, wo ist der Bahnhof?“ – „Gehen Sie geradeaus und dann links.“\nrechts ➡️ · links ⬅️ · geradeaus ⬆️	\N	\N	{"question": "Was hei\\u00dft \\u2b05\\ufe0f?", "choices": ["links", "rechts", "geradeaus"], "answer": 0, "right": null, "wrong": null}	f
8	1	bus-bahn	8	Bus und Bahn	„Eine Fahrkarte nach Dresden, bitte.“ – „Einfach oder hin und zurück?“\nVor der Fahrt die Fahrkarte kaufen – ohne Fahrkarte zahlt man viel mehr.	\N	\N	{"question": "Sie fahren hin und kommen am selben Tag wieder. Was kaufen Sie?", "choices": ["hin und zur\\u00fcck", "einfach", "eine Monatskarte"], "answer": 0, "right": null, "wrong": null}	f
9	1	termine	9	Termine machen	„Haben Sie am Montag Zeit?“ – „Am Montag kann ich nicht, aber am Dienstag.“\nDie Wochentage: Montag, Dienstag, Mittwoch, Donnerstag, Freitag, Samstag, Sonntag.	\N	\N	{"question": "Welcher Tag kommt nach Mittwoch?", "choices": ["Donnerstag", "Dienstag", "Freitag"], "answer": 0, "right": null, "wrong": null}	f
10	1	wohnung	10	Die Wohnung	Küche, Bad, Schlafzimmer, Wohnzimmer. „Die Heizung ist kaputt.“ – Das sagen Sie dem\nVermieter oder der Hausverwaltung, am besten auch schriftlich.	\N	\N	{"question": "Die Heizung ist kaputt. Wem sagen Sie das?", "choices": ["dem Vermieter", "der Polizei", "dem Arzt"], "answer": 0, "right": null, "wrong": null}	f
11	1	behoerde	11	Bei der Behörde	Auf dem Amt zieht man oft eine Nummer und wartet. „Ich möchte mich anmelden.“\nWichtige Papiere: Pass, Mietvertrag, Wohnungsgeberbestätigung.	\N	\N	{"question": "Was sagen Sie, wenn Sie eine neue Wohnung anmelden?", "choices": ["Ich m\\u00f6chte mich anmelden.", "Ich habe Kopfschmerzen.", "Einfach", "bitte."], "answer": 0, "right": null, "wrong": null}	f
12	1	notruf	12	Der Notruf	Feuerwehr und Rettungsdienst: 112. Polizei: 110. Sagen Sie: Wo ist es? Was ist passiert?\nWie viele Verletzte? Dann warten Sie auf Fragen.	\N	\N	{"question": "Welche Nummer rufen Sie bei einem Feuer an?", "choices": ["112", "110", "115"], "answer": 0, "right": "Richtig! 112 \\u2013 Feuerwehr und Rettungsdienst, in ganz Europa.", "wrong": "Bei Feuer und Unfall: 112 (Feuerwehr und Rettungsdienst)."}	f
\.


--
-- Data for Name: lessons_quiz_answer; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.lessons_quiz_answer (id, subscription_id, lesson_id, choice, correct, answered_at) FROM stdin;
\.


--
-- Data for Name: lessons_subscription; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.lessons_subscription (id, jid, course_id, state, "time", timezone, language, subscribed_at, ended_at) FROM stdin;
1	anna@localhost	1	active	07:30	Europe/Berlin	en	2026-11-30 17:04:30.247813	\N
\.


--
-- Data for Name: migrations_bots; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.migrations_bots (id, name, applied) FROM stdin;
\.


--
-- Data for Name: migrations_outbox; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.migrations_outbox (id, name, applied) FROM stdin;
1	0001_stream_position	2026-11-30 17:04:24.782488
\.


--
-- Data for Name: migrations_scheduler; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.migrations_scheduler (id, name, applied) FROM stdin;
1	0001_backoff_and_due_by_job	2026-11-30 17:04:24.759166
\.


--
-- Data for Name: migrations_status; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.migrations_status (id, name, applied) FROM stdin;
1	0001_feed_event_ref	2026-11-30 17:04:24.931335
\.


--
-- Data for Name: rooms_member; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.rooms_member (id, room_id, jid, state, language, invited_at, joined_at) FROM stdin;
1	1	anna@localhost	joined	en	2026-11-30 17:04:28.748793	2026-11-30 17:04:30.305106
2	1	bert@localhost	invited	en	2026-11-30 17:04:33.000148	\N
\.


--
-- Data for Name: rooms_room; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.rooms_room (id, slug, name, description, course, trainer, language, state, destroy_after, welcomed_at, created_at) FROM stdin;
1	team-nord	Team Nord	Die Werkstatt-Crew	\N	\N	en	active	\N	2026-11-30 17:04:30.142919	2026-11-30 17:04:27.597513
\.


--
-- Data for Name: status_change; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.status_change (id, item_id, state, note, source, changed_at) FROM stdin;
1	1	received	\N	cli	2026-11-30 17:04:26.289978
2	1	in_progress	\N	cli	2026-11-30 17:04:31.816482
\.


--
-- Data for Name: status_claim_attempt; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.status_claim_attempt (id, jid, ref, at) FROM stdin;
\.


--
-- Data for Name: status_feed_event; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.status_feed_event (id, event_id, ref, received_at) FROM stdin;
\.


--
-- Data for Name: status_item; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.status_item (id, ref, kind, state, code, closed, created_at, updated_at) FROM stdin;
1	4711	vehicle	in_progress	K7M2Q9XR	f	2026-11-30 17:04:26.288492	2026-11-30 17:04:31.816482
\.


--
-- Data for Name: status_watcher; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.status_watcher (id, item_id, jid, language, claimed_at) FROM stdin;
1	1	anna@localhost	en	2026-11-30 17:04:30.290754
\.


--
-- Name: bots_consent_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.bots_consent_id_seq', 3, true);


--
-- Name: bots_erasure_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.bots_erasure_id_seq', 1, false);


--
-- Name: bots_invitation_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.bots_invitation_id_seq', 1, false);


--
-- Name: bots_outbox_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.bots_outbox_id_seq', 3, true);


--
-- Name: bots_schedule_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.bots_schedule_id_seq', 6, true);


--
-- Name: lessons_course_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.lessons_course_id_seq', 1, true);


--
-- Name: lessons_delivery_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.lessons_delivery_id_seq', 1, false);


--
-- Name: lessons_lesson_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.lessons_lesson_id_seq', 12, true);


--
-- Name: lessons_quiz_answer_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.lessons_quiz_answer_id_seq', 1, false);


--
-- Name: lessons_subscription_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.lessons_subscription_id_seq', 1, true);


--
-- Name: migrations_bots_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.migrations_bots_id_seq', 1, false);


--
-- Name: migrations_outbox_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.migrations_outbox_id_seq', 1, true);


--
-- Name: migrations_scheduler_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.migrations_scheduler_id_seq', 1, true);


--
-- Name: migrations_status_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.migrations_status_id_seq', 1, true);


--
-- Name: rooms_member_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.rooms_member_id_seq', 2, true);


--
-- Name: rooms_room_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.rooms_room_id_seq', 1, true);


--
-- Name: status_change_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.status_change_id_seq', 2, true);


--
-- Name: status_claim_attempt_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.status_claim_attempt_id_seq', 1, false);


--
-- Name: status_feed_event_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.status_feed_event_id_seq', 1, false);


--
-- Name: status_item_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.status_item_id_seq', 1, true);


--
-- Name: status_watcher_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.status_watcher_id_seq', 1, true);


--
-- Name: bots_consent bots_consent_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bots_consent
    ADD CONSTRAINT bots_consent_pkey PRIMARY KEY (id);


--
-- Name: bots_erasure bots_erasure_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bots_erasure
    ADD CONSTRAINT bots_erasure_pkey PRIMARY KEY (id);


--
-- Name: bots_invitation bots_invitation_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bots_invitation
    ADD CONSTRAINT bots_invitation_pkey PRIMARY KEY (id);


--
-- Name: bots_outbox bots_outbox_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bots_outbox
    ADD CONSTRAINT bots_outbox_pkey PRIMARY KEY (id);


--
-- Name: bots_person_setting bots_person_setting_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bots_person_setting
    ADD CONSTRAINT bots_person_setting_pkey PRIMARY KEY (jid);


--
-- Name: bots_schedule bots_schedule_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bots_schedule
    ADD CONSTRAINT bots_schedule_pkey PRIMARY KEY (id);


--
-- Name: lessons_course lessons_course_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lessons_course
    ADD CONSTRAINT lessons_course_pkey PRIMARY KEY (id);


--
-- Name: lessons_delivery lessons_delivery_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lessons_delivery
    ADD CONSTRAINT lessons_delivery_pkey PRIMARY KEY (id);


--
-- Name: lessons_lesson lessons_lesson_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lessons_lesson
    ADD CONSTRAINT lessons_lesson_pkey PRIMARY KEY (id);


--
-- Name: lessons_quiz_answer lessons_quiz_answer_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lessons_quiz_answer
    ADD CONSTRAINT lessons_quiz_answer_pkey PRIMARY KEY (id);


--
-- Name: lessons_subscription lessons_subscription_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lessons_subscription
    ADD CONSTRAINT lessons_subscription_pkey PRIMARY KEY (id);


--
-- Name: migrations_bots migrations_bots_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.migrations_bots
    ADD CONSTRAINT migrations_bots_pkey PRIMARY KEY (id);


--
-- Name: migrations_outbox migrations_outbox_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.migrations_outbox
    ADD CONSTRAINT migrations_outbox_pkey PRIMARY KEY (id);


--
-- Name: migrations_scheduler migrations_scheduler_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.migrations_scheduler
    ADD CONSTRAINT migrations_scheduler_pkey PRIMARY KEY (id);


--
-- Name: migrations_status migrations_status_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.migrations_status
    ADD CONSTRAINT migrations_status_pkey PRIMARY KEY (id);


--
-- Name: rooms_member rooms_member_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rooms_member
    ADD CONSTRAINT rooms_member_pkey PRIMARY KEY (id);


--
-- Name: rooms_room rooms_room_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rooms_room
    ADD CONSTRAINT rooms_room_pkey PRIMARY KEY (id);


--
-- Name: status_change status_change_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.status_change
    ADD CONSTRAINT status_change_pkey PRIMARY KEY (id);


--
-- Name: status_claim_attempt status_claim_attempt_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.status_claim_attempt
    ADD CONSTRAINT status_claim_attempt_pkey PRIMARY KEY (id);


--
-- Name: status_feed_event status_feed_event_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.status_feed_event
    ADD CONSTRAINT status_feed_event_pkey PRIMARY KEY (id);


--
-- Name: status_item status_item_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.status_item
    ADD CONSTRAINT status_item_pkey PRIMARY KEY (id);


--
-- Name: status_watcher status_watcher_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.status_watcher
    ADD CONSTRAINT status_watcher_pkey PRIMARY KEY (id);


--
-- Name: claimattempt_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX claimattempt_at ON public.status_claim_attempt USING btree (at);


--
-- Name: claimattempt_jid; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX claimattempt_jid ON public.status_claim_attempt USING btree (jid);


--
-- Name: claimattempt_ref; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX claimattempt_ref ON public.status_claim_attempt USING btree (ref);


--
-- Name: consent_jid_purpose; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX consent_jid_purpose ON public.bots_consent USING btree (jid, purpose);


--
-- Name: course_slug; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX course_slug ON public.lessons_course USING btree (slug);


--
-- Name: delivery_lesson_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX delivery_lesson_id ON public.lessons_delivery USING btree (lesson_id);


--
-- Name: delivery_subscription_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX delivery_subscription_id ON public.lessons_delivery USING btree (subscription_id);


--
-- Name: delivery_subscription_id_lesson_id; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX delivery_subscription_id_lesson_id ON public.lessons_delivery USING btree (subscription_id, lesson_id);


--
-- Name: feedevent_event_id; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX feedevent_event_id ON public.status_feed_event USING btree (event_id);


--
-- Name: invitation_token_hash; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX invitation_token_hash ON public.bots_invitation USING btree (token_hash);


--
-- Name: invitation_used_by; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX invitation_used_by ON public.bots_invitation USING btree (used_by);


--
-- Name: item_closed; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX item_closed ON public.status_item USING btree (closed);


--
-- Name: item_ref; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX item_ref ON public.status_item USING btree (ref);


--
-- Name: lesson_course_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX lesson_course_id ON public.lessons_lesson USING btree (course_id);


--
-- Name: lesson_course_id_slug; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX lesson_course_id_slug ON public.lessons_lesson USING btree (course_id, slug);


--
-- Name: member_jid; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX member_jid ON public.rooms_member USING btree (jid);


--
-- Name: member_room_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX member_room_id ON public.rooms_member USING btree (room_id);


--
-- Name: member_room_id_jid; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX member_room_id_jid ON public.rooms_member USING btree (room_id, jid);


--
-- Name: migrations_bots_name; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX migrations_bots_name ON public.migrations_bots USING btree (name);


--
-- Name: migrations_outbox_name; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX migrations_outbox_name ON public.migrations_outbox USING btree (name);


--
-- Name: migrations_scheduler_name; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX migrations_scheduler_name ON public.migrations_scheduler USING btree (name);


--
-- Name: migrations_status_name; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX migrations_status_name ON public.migrations_status USING btree (name);


--
-- Name: outboxmessage_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX outboxmessage_key ON public.bots_outbox USING btree (key);


--
-- Name: outboxmessage_origin_id; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX outboxmessage_origin_id ON public.bots_outbox USING btree (origin_id);


--
-- Name: outboxmessage_state; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX outboxmessage_state ON public.bots_outbox USING btree (state);


--
-- Name: quizanswer_lesson_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX quizanswer_lesson_id ON public.lessons_quiz_answer USING btree (lesson_id);


--
-- Name: quizanswer_subscription_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX quizanswer_subscription_id ON public.lessons_quiz_answer USING btree (subscription_id);


--
-- Name: quizanswer_subscription_id_lesson_id; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX quizanswer_subscription_id_lesson_id ON public.lessons_quiz_answer USING btree (subscription_id, lesson_id);


--
-- Name: room_course; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX room_course ON public.rooms_room USING btree (course);


--
-- Name: room_slug; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX room_slug ON public.rooms_room USING btree (slug);


--
-- Name: schedule_job_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX schedule_job_key ON public.bots_schedule USING btree (job, key);


--
-- Name: schedule_job_next_due_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX schedule_job_next_due_at ON public.bots_schedule USING btree (job, next_due_at);


--
-- Name: statuschange_item_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX statuschange_item_id ON public.status_change USING btree (item_id);


--
-- Name: subscription_course_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX subscription_course_id ON public.lessons_subscription USING btree (course_id);


--
-- Name: subscription_jid; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX subscription_jid ON public.lessons_subscription USING btree (jid);


--
-- Name: subscription_jid_course_id; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX subscription_jid_course_id ON public.lessons_subscription USING btree (jid, course_id);


--
-- Name: watcher_item_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX watcher_item_id ON public.status_watcher USING btree (item_id);


--
-- Name: watcher_item_id_jid; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX watcher_item_id_jid ON public.status_watcher USING btree (item_id, jid);


--
-- Name: watcher_jid; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX watcher_jid ON public.status_watcher USING btree (jid);


--
-- Name: lessons_delivery lessons_delivery_lesson_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lessons_delivery
    ADD CONSTRAINT lessons_delivery_lesson_id_fkey FOREIGN KEY (lesson_id) REFERENCES public.lessons_lesson(id) ON DELETE CASCADE;


--
-- Name: lessons_delivery lessons_delivery_subscription_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lessons_delivery
    ADD CONSTRAINT lessons_delivery_subscription_id_fkey FOREIGN KEY (subscription_id) REFERENCES public.lessons_subscription(id) ON DELETE CASCADE;


--
-- Name: lessons_lesson lessons_lesson_course_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lessons_lesson
    ADD CONSTRAINT lessons_lesson_course_id_fkey FOREIGN KEY (course_id) REFERENCES public.lessons_course(id) ON DELETE CASCADE;


--
-- Name: lessons_quiz_answer lessons_quiz_answer_lesson_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lessons_quiz_answer
    ADD CONSTRAINT lessons_quiz_answer_lesson_id_fkey FOREIGN KEY (lesson_id) REFERENCES public.lessons_lesson(id) ON DELETE CASCADE;


--
-- Name: lessons_quiz_answer lessons_quiz_answer_subscription_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lessons_quiz_answer
    ADD CONSTRAINT lessons_quiz_answer_subscription_id_fkey FOREIGN KEY (subscription_id) REFERENCES public.lessons_subscription(id) ON DELETE CASCADE;


--
-- Name: lessons_subscription lessons_subscription_course_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lessons_subscription
    ADD CONSTRAINT lessons_subscription_course_id_fkey FOREIGN KEY (course_id) REFERENCES public.lessons_course(id) ON DELETE CASCADE;


--
-- Name: rooms_member rooms_member_room_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rooms_member
    ADD CONSTRAINT rooms_member_room_id_fkey FOREIGN KEY (room_id) REFERENCES public.rooms_room(id) ON DELETE CASCADE;


--
-- Name: status_change status_change_item_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.status_change
    ADD CONSTRAINT status_change_item_id_fkey FOREIGN KEY (item_id) REFERENCES public.status_item(id) ON DELETE CASCADE;


--
-- Name: status_watcher status_watcher_item_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.status_watcher
    ADD CONSTRAINT status_watcher_item_id_fkey FOREIGN KEY (item_id) REFERENCES public.status_item(id) ON DELETE CASCADE;


--
-- PostgreSQL database dump complete
--

\unrestrict F6tirBDj5OsW3JcuxTfzs49J7UebPynyoep8ppc9eIoyGBLL5pqXCQQqRlJypMW

