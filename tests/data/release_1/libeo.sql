BEGIN TRANSACTION;
CREATE TABLE account (
	id INTEGER NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	siret VARCHAR(14) NOT NULL, 
	"plan" VARCHAR(20) NOT NULL, 
	accountant_email VARCHAR(254), 
	debtor_iban VARCHAR(34), 
	debtor_bic VARCHAR(11), 
	stripe_customer_id VARCHAR(255), 
	stripe_subscription_id VARCHAR(255), 
	subscription_status VARCHAR(40), 
	current_period_end DATETIME, 
	cancel_at_period_end BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_account PRIMARY KEY (id), 
	CONSTRAINT uq_account_siret UNIQUE (siret), 
	CONSTRAINT uq_account_stripe_customer_id UNIQUE (stripe_customer_id)
);
INSERT INTO "account" VALUES(1,'Boulangerie Martin SARL','83451234500002','Gratuit',NULL,'FR7630006000011234567890189',NULL,NULL,NULL,NULL,NULL,0,'2026-11-30 08:51:54.259576');
CREATE TABLE api_key (
	id INTEGER NOT NULL, 
	account_id INTEGER NOT NULL, 
	integration VARCHAR(20) NOT NULL, 
	public_id VARCHAR(16) NOT NULL, 
	prefix VARCHAR(32) NOT NULL, 
	key_hash VARCHAR(64) NOT NULL, 
	created_at DATETIME NOT NULL, 
	last_used_at DATETIME, 
	revoked_at DATETIME, 
	CONSTRAINT pk_api_key PRIMARY KEY (id), 
	CONSTRAINT fk_api_key_account_id_account FOREIGN KEY(account_id) REFERENCES account (id) ON DELETE CASCADE, 
	CONSTRAINT uq_api_key_public_id UNIQUE (public_id)
);
INSERT INTO "api_key" VALUES(1,1,'meg','f58a014dfb8f','lbo_meg_f58a014dfb8f','906c1bbc095c3221fc4c7ebaf3f666c74e8e7c126372511c0fc05ac3b63caca0','2026-11-30 08:51:54.290689','2026-11-30 08:51:54.334670',NULL);
CREATE TABLE idempotency_record (
	id INTEGER NOT NULL, 
	account_id INTEGER NOT NULL, 
	"key" VARCHAR(255) NOT NULL, 
	request_hash VARCHAR(64) NOT NULL, 
	state VARCHAR(20) NOT NULL, 
	response_status INTEGER, 
	response_body TEXT, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_idempotency_record PRIMARY KEY (id), 
	CONSTRAINT uq_idempotency_key UNIQUE (account_id, "key"), 
	CONSTRAINT fk_idempotency_record_account_id_account FOREIGN KEY(account_id) REFERENCES account (id) ON DELETE CASCADE
);
INSERT INTO "idempotency_record" VALUES(1,1,'CQM_hjj1AAge5jBPobT9rgHXfQdO5bzH','b7c4a9973a2ced06658da3e6da68a55d1340e92f1299156ff5d16499df92c9cb','done',201,'{"id": 1, "status": "scheduled", "amount_cents": 48650, "currency": "EUR", "execution_date": "2026-11-30", "invoice_external_id": "meg-1", "initiated_by": {"email": "admin@boulangerie-martin.fr", "role": "user"}, "channel": "MEG", "created_at": "2026-11-30T08:51:54.410374+00:00", "paid_at": null}','2026-11-30 08:51:54.393041');
INSERT INTO "idempotency_record" VALUES(2,1,'79vWe-JI05YXwyoECTeUVdfFo7t38hUC','b4647d46c3703744eebcf5e41c02132340cf4088737a3cacdc335d9e0d400ef1','done',201,'{"id": 2, "status": "scheduled", "amount_cents": 12380, "currency": "EUR", "execution_date": "2026-11-30", "invoice_external_id": "meg-2", "initiated_by": {"email": "admin@boulangerie-martin.fr", "role": "user"}, "channel": "MEG", "created_at": "2026-11-30T08:51:54.447528+00:00", "paid_at": null}','2026-11-30 08:51:54.441085');
INSERT INTO "idempotency_record" VALUES(3,1,'8Bak4cYyZTVhniiVdsPmY4Oxl92B2qWk','f922ea98faaa3015535abc078519513043d563a801ac280096a915bd0ea7029a','done',201,'{"id": 3, "status": "scheduled", "amount_cents": 231475, "currency": "EUR", "execution_date": "2026-11-30", "invoice_external_id": "meg-3", "initiated_by": {"email": "admin@boulangerie-martin.fr", "role": "user"}, "channel": "MEG", "created_at": "2026-11-30T08:51:55.253537+00:00", "paid_at": null}','2026-11-30 08:51:55.244283');
CREATE TABLE invoice (
	id INTEGER NOT NULL, 
	account_id INTEGER NOT NULL, 
	source VARCHAR(10) NOT NULL, 
	external_id VARCHAR(64), 
	number VARCHAR(60) NOT NULL, 
	supplier_name VARCHAR(200) NOT NULL, 
	supplier_iban VARCHAR(34) NOT NULL, 
	supplier_bic VARCHAR(11), 
	issue_date DATE NOT NULL, 
	due_date DATE NOT NULL, 
	amount_cents BIGINT NOT NULL, 
	currency VARCHAR(3) NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_invoice PRIMARY KEY (id), 
	CONSTRAINT ck_invoice_amount_positive CHECK (amount_cents > 0), 
	CONSTRAINT ck_invoice_due_after_issue CHECK (due_date >= issue_date), 
	CONSTRAINT uq_invoice_external UNIQUE (account_id, external_id), 
	CONSTRAINT fk_invoice_account_id_account FOREIGN KEY(account_id) REFERENCES account (id) ON DELETE CASCADE
);
INSERT INTO "invoice" VALUES(1,1,'MEG','meg-1','F-BM-2026-001','Minoterie Dupuis','FR7630006000010000000791963','AGRIFRPPXXX','2026-11-10','2026-12-10',48650,'EUR','paid','2026-11-30 08:51:54.384676','2026-11-30 08:51:55.214214');
INSERT INTO "invoice" VALUES(2,1,'MEG','meg-2','F-BM-2026-002','Laiterie des Prés','FR7630004008220000001583859','BNPAFRPP','2026-11-15','2026-12-15',12380,'EUR','paid','2026-11-30 08:51:54.435046','2026-11-30 08:51:55.214218');
INSERT INTO "invoice" VALUES(3,1,'MEG','meg-3','F-BM-2026-003','EDF Entreprises','FR7610278060390000002375705','CMCIFR2A','2026-11-20','2027-01-04',231475,'EUR','payment_scheduled','2026-11-30 08:51:55.238555','2026-11-30 08:51:55.253327');
CREATE TABLE libeo_user (
	id INTEGER NOT NULL, 
	account_id INTEGER NOT NULL, 
	email VARCHAR(254) NOT NULL, 
	full_name VARCHAR(200) NOT NULL, 
	password_hash VARCHAR(255), 
	session_token VARCHAR(64) NOT NULL, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_libeo_user PRIMARY KEY (id), 
	CONSTRAINT fk_libeo_user_account_id_account FOREIGN KEY(account_id) REFERENCES account (id) ON DELETE CASCADE, 
	CONSTRAINT uq_libeo_user_email UNIQUE (email)
);
INSERT INTO "libeo_user" VALUES(1,1,'claire@boulangerie-martin.fr','Claire Martin','scrypt:1024:8:1$AwH7TmFG3RJLajD9$aa23ff67a6234e75a6fc1494a0637e39896b2a008d6d959c84cd2472d1a876402f0cd982c727afbb7c573eb32dc26f6b7b563ca8342d0ed342bec47df2af6093','T_l-foPoSEgPbcv7K2kbiB1970INS3n46ZE0ueW1SKo','2026-11-30 08:51:54.261127');
CREATE TABLE meg_identity (
	id INTEGER NOT NULL, 
	issuer VARCHAR(255) NOT NULL, 
	company_ref VARCHAR(64) NOT NULL, 
	subject VARCHAR(255) NOT NULL, 
	account_id INTEGER NOT NULL, 
	user_id INTEGER NOT NULL, 
	linked_at DATETIME NOT NULL, 
	CONSTRAINT pk_meg_identity PRIMARY KEY (id), 
	CONSTRAINT uq_meg_identity_company UNIQUE (issuer, company_ref), 
	CONSTRAINT uq_meg_identity_account_id UNIQUE (account_id), 
	CONSTRAINT fk_meg_identity_account_id_account FOREIGN KEY(account_id) REFERENCES account (id) ON DELETE CASCADE, 
	CONSTRAINT fk_meg_identity_user_id_libeo_user FOREIGN KEY(user_id) REFERENCES libeo_user (id) ON DELETE CASCADE
);
CREATE TABLE payment (
	id INTEGER NOT NULL, 
	account_id INTEGER NOT NULL, 
	invoice_id INTEGER NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	amount_cents BIGINT NOT NULL, 
	currency VARCHAR(3) NOT NULL, 
	execution_date DATE NOT NULL, 
	creditor_name VARCHAR(200) NOT NULL, 
	creditor_iban VARCHAR(34) NOT NULL, 
	creditor_bic VARCHAR(11), 
	initiated_by_email VARCHAR(254) NOT NULL, 
	initiated_by_role VARCHAR(20) NOT NULL, 
	channel VARCHAR(10) NOT NULL, 
	batch_id INTEGER, 
	failure_reason VARCHAR(300), 
	created_at DATETIME NOT NULL, 
	paid_at DATETIME, 
	cancelled_at DATETIME, 
	CONSTRAINT pk_payment PRIMARY KEY (id), 
	CONSTRAINT ck_payment_amount_positive CHECK (amount_cents > 0), 
	CONSTRAINT fk_payment_account_id_account FOREIGN KEY(account_id) REFERENCES account (id) ON DELETE CASCADE, 
	CONSTRAINT fk_payment_invoice_id_invoice FOREIGN KEY(invoice_id) REFERENCES invoice (id) ON DELETE CASCADE, 
	CONSTRAINT fk_payment_batch_id_sepa_batch FOREIGN KEY(batch_id) REFERENCES sepa_batch (id)
);
INSERT INTO "payment" VALUES(1,1,1,'paid',48650,'EUR','2026-11-30','Minoterie Dupuis','FR7630006000010000000791963','AGRIFRPPXXX','admin@boulangerie-martin.fr','user','MEG',1,NULL,'2026-11-30 08:51:54.410374','2026-11-30 08:51:55.212525',NULL);
INSERT INTO "payment" VALUES(2,1,2,'paid',12380,'EUR','2026-11-30','Laiterie des Prés','FR7630004008220000001583859','BNPAFRPP','admin@boulangerie-martin.fr','user','MEG',1,NULL,'2026-11-30 08:51:54.447528','2026-11-30 08:51:55.212525',NULL);
INSERT INTO "payment" VALUES(3,1,3,'scheduled',231475,'EUR','2026-11-30','EDF Entreprises','FR7610278060390000002375705','CMCIFR2A','admin@boulangerie-martin.fr','user','MEG',NULL,NULL,'2026-11-30 08:51:55.253537',NULL,NULL);
CREATE TABLE payment_usage (
	account_id INTEGER NOT NULL, 
	month VARCHAR(7) NOT NULL, 
	payment_count INTEGER NOT NULL, 
	CONSTRAINT pk_payment_usage PRIMARY KEY (account_id, month), 
	CONSTRAINT fk_payment_usage_account_id_account FOREIGN KEY(account_id) REFERENCES account (id) ON DELETE CASCADE
);
INSERT INTO "payment_usage" VALUES(1,'2026-11',3);
CREATE TABLE sepa_batch (
	id INTEGER NOT NULL, 
	account_id INTEGER NOT NULL, 
	reference VARCHAR(35) NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	execution_date DATE NOT NULL, 
	payment_count INTEGER NOT NULL, 
	total_cents BIGINT NOT NULL, 
	message_id VARCHAR(35), 
	file_name VARCHAR(255), 
	file_sha256 VARCHAR(64), 
	created_at DATETIME NOT NULL, 
	sent_at DATETIME, 
	CONSTRAINT pk_sepa_batch PRIMARY KEY (id), 
	CONSTRAINT fk_sepa_batch_account_id_account FOREIGN KEY(account_id) REFERENCES account (id) ON DELETE CASCADE, 
	CONSTRAINT uq_sepa_batch_reference UNIQUE (reference)
);
INSERT INTO "sepa_batch" VALUES(1,1,'LBO-1-20261130-5C841A8B','sent','2026-11-30',2,61030,'20261130085154-f0a2927c1db1','LBO-1-20261130-5C841A8B.xml','48e7ab4f58d232ee4bb4ff4e53905fa16de045980d564f3312b47c0fa6f8c346','2026-11-30 08:51:54.460509','2026-11-30 08:51:55.212525');
CREATE TABLE stripe_event (
	id VARCHAR(255) NOT NULL, 
	type VARCHAR(100) NOT NULL, 
	created BIGINT NOT NULL, 
	applied_at DATETIME NOT NULL, 
	CONSTRAINT pk_stripe_event PRIMARY KEY (id)
);
CREATE TABLE stripe_subscription (
	id VARCHAR(255) NOT NULL, 
	account_id INTEGER NOT NULL, 
	status VARCHAR(32) NOT NULL, 
	state_at BIGINT NOT NULL, 
	ended BOOLEAN NOT NULL, 
	CONSTRAINT pk_stripe_subscription PRIMARY KEY (id), 
	CONSTRAINT fk_stripe_subscription_account_id_account FOREIGN KEY(account_id) REFERENCES account (id) ON DELETE CASCADE
);
CREATE INDEX ix_libeo_user_account_id ON libeo_user (account_id);
CREATE UNIQUE INDEX uq_api_key_active ON api_key (account_id, integration) WHERE revoked_at IS NULL;
CREATE INDEX ix_api_key_account_id ON api_key (account_id);
CREATE INDEX ix_invoice_list ON invoice (account_id, issue_date, id);
CREATE INDEX ix_sepa_batch_account ON sepa_batch (account_id, created_at);
CREATE INDEX ix_sepa_batch_status ON sepa_batch (status);
CREATE INDEX ix_stripe_subscription_account_id ON stripe_subscription (account_id);
CREATE UNIQUE INDEX uq_payment_active_invoice ON payment (invoice_id) WHERE status IN ('scheduled', 'in_progress', 'paid');
CREATE INDEX ix_payment_list ON payment (account_id, created_at, id);
CREATE INDEX ix_payment_batch_id ON payment (batch_id);
CREATE INDEX ix_payment_due ON payment (status, execution_date);
CREATE INDEX ix_payment_invoice_id ON payment (invoice_id);
CREATE INDEX ix_meg_identity_user_id ON meg_identity (user_id);
COMMIT;
