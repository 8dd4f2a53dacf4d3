BEGIN TRANSACTION;
CREATE TABLE accounting_firm (
	id INTEGER NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	CONSTRAINT pk_accounting_firm PRIMARY KEY (id)
);
INSERT INTO "accounting_firm" VALUES(1,'Cabinet Durand Expertise');
CREATE TABLE company (
	id INTEGER NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	siret VARCHAR(14), 
	accounting_firm_id INTEGER, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_company PRIMARY KEY (id), 
	CONSTRAINT uq_company_siret UNIQUE (siret), 
	CONSTRAINT fk_company_accounting_firm_id_accounting_firm FOREIGN KEY(accounting_firm_id) REFERENCES accounting_firm (id)
);
INSERT INTO "company" VALUES(1,'Boulangerie Martin SARL','83451234500002',1,'2026-11-30 08:51:54.212802');
INSERT INTO "company" VALUES(2,'Garage Leroy SAS','85123456700002',1,'2026-11-30 08:51:54.212811');
INSERT INTO "company" VALUES(3,'Association Les Amis du Quartier',NULL,1,'2026-11-30 08:51:54.212813');
CREATE TABLE libeo_connection (
	id INTEGER NOT NULL, 
	company_id INTEGER NOT NULL, 
	key_ciphertext TEXT NOT NULL, 
	key_prefix VARCHAR(24) NOT NULL, 
	account_name VARCHAR(200) NOT NULL, 
	connected_at DATETIME NOT NULL, 
	connected_by_id INTEGER, 
	CONSTRAINT pk_libeo_connection PRIMARY KEY (id), 
	CONSTRAINT uq_libeo_connection_company_id UNIQUE (company_id), 
	CONSTRAINT fk_libeo_connection_company_id_company FOREIGN KEY(company_id) REFERENCES company (id) ON DELETE CASCADE, 
	CONSTRAINT fk_libeo_connection_connected_by_id_user_account FOREIGN KEY(connected_by_id) REFERENCES user_account (id) ON DELETE SET NULL
);
INSERT INTO "libeo_connection" VALUES(1,1,'gAAAAABrDTkqYGTzeFhOd0-Q7oy0tYTiOs6Y3xsf-3sCfiAjfcXjxoWidDLoXzxiQazEHU_rLytWZpSxEU4_dWf0CcSfblyYvjIThStcs_jfsqvCYTbmSPtJyP-hiRWbgBLLE0DFz392vVhEXthY8Pa4h1nDqwu3fFtS03T19TFF19Jb-O5Q4no=','lbo_meg_f58a','Boulangerie Martin SARL','2026-11-30 08:51:54.346411',1);
CREATE TABLE libeo_outbox (
	id INTEGER NOT NULL, 
	company_id INTEGER NOT NULL, 
	invoice_id INTEGER NOT NULL, 
	payload JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt_at DATETIME NOT NULL, 
	claimed_until DATETIME, 
	delivered_at DATETIME, 
	last_error VARCHAR(500), 
	CONSTRAINT pk_libeo_outbox PRIMARY KEY (id), 
	CONSTRAINT fk_libeo_outbox_company_id_company FOREIGN KEY(company_id) REFERENCES company (id) ON DELETE CASCADE, 
	CONSTRAINT fk_libeo_outbox_invoice_id_supplier_invoice FOREIGN KEY(invoice_id) REFERENCES supplier_invoice (id) ON DELETE CASCADE
);
INSERT INTO "libeo_outbox" VALUES(1,1,3,'{"number": "F-BM-2026-003-B", "supplier": {"name": "EDF Entreprises", "iban": "FR7610278060390000002375705", "bic": "CMCIFR2A"}, "amount_cents": 231475, "currency": "EUR", "issue_date": "2026-11-20", "due_date": "2027-01-04"}','2026-11-30 08:51:55.286538',0,'2026-11-30 08:51:55.286543',NULL,NULL,NULL);
CREATE TABLE libeo_payment (
	id INTEGER NOT NULL, 
	invoice_id INTEGER NOT NULL, 
	attempt INTEGER NOT NULL, 
	idempotency_key VARCHAR(64) NOT NULL, 
	libeo_payment_id VARCHAR(64), 
	status VARCHAR(20) NOT NULL, 
	execution_date VARCHAR(10), 
	requested_by_id INTEGER, 
	requested_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_libeo_payment PRIMARY KEY (id), 
	CONSTRAINT uq_libeo_payment_attempt UNIQUE (invoice_id, attempt), 
	CONSTRAINT fk_libeo_payment_invoice_id_supplier_invoice FOREIGN KEY(invoice_id) REFERENCES supplier_invoice (id) ON DELETE CASCADE, 
	CONSTRAINT uq_libeo_payment_idempotency_key UNIQUE (idempotency_key), 
	CONSTRAINT fk_libeo_payment_requested_by_id_user_account FOREIGN KEY(requested_by_id) REFERENCES user_account (id) ON DELETE SET NULL
);
INSERT INTO "libeo_payment" VALUES(1,1,1,'CQM_hjj1AAge5jBPobT9rgHXfQdO5bzH','1','SCHEDULED','2026-11-30',1,'2026-11-30 08:51:54.365545','2026-11-30 08:51:54.415910');
INSERT INTO "libeo_payment" VALUES(2,2,1,'79vWe-JI05YXwyoECTeUVdfFo7t38hUC','2','SCHEDULED','2026-11-30',1,'2026-11-30 08:51:54.426604','2026-11-30 08:51:54.451083');
INSERT INTO "libeo_payment" VALUES(3,3,1,'8Bak4cYyZTVhniiVdsPmY4Oxl92B2qWk','3','SCHEDULED','2026-11-30',1,'2026-11-30 08:51:55.228185','2026-11-30 08:51:55.255726');
CREATE TABLE module_role (
	id INTEGER NOT NULL, 
	user_id INTEGER NOT NULL, 
	company_id INTEGER NOT NULL, 
	module VARCHAR(30) NOT NULL, 
	role VARCHAR(20) NOT NULL, 
	CONSTRAINT pk_module_role PRIMARY KEY (id), 
	CONSTRAINT uq_module_role_user_id UNIQUE (user_id, company_id, module), 
	CONSTRAINT fk_module_role_user_id_user_account FOREIGN KEY(user_id) REFERENCES user_account (id) ON DELETE CASCADE, 
	CONSTRAINT fk_module_role_company_id_company FOREIGN KEY(company_id) REFERENCES company (id) ON DELETE CASCADE
);
INSERT INTO "module_role" VALUES(1,1,1,'achats','ADMIN');
INSERT INTO "module_role" VALUES(2,2,1,'achats','USER');
INSERT INTO "module_role" VALUES(3,3,2,'achats','ADMIN');
INSERT INTO "module_role" VALUES(4,4,3,'achats','ADMIN');
CREATE TABLE oauth_authorization_code (
	id INTEGER NOT NULL, 
	code_hash VARCHAR(64) NOT NULL, 
	client_id INTEGER NOT NULL, 
	user_id INTEGER NOT NULL, 
	company_id INTEGER, 
	redirect_uri TEXT NOT NULL, 
	scope VARCHAR(200) NOT NULL, 
	nonce TEXT, 
	code_challenge VARCHAR(128) NOT NULL, 
	code_challenge_method VARCHAR(10) NOT NULL, 
	expires_at INTEGER NOT NULL, 
	used_at DATETIME, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_oauth_authorization_code PRIMARY KEY (id), 
	CONSTRAINT uq_oauth_authorization_code_code_hash UNIQUE (code_hash), 
	CONSTRAINT fk_oauth_authorization_code_client_id_oauth_client FOREIGN KEY(client_id) REFERENCES oauth_client (id) ON DELETE CASCADE, 
	CONSTRAINT fk_oauth_authorization_code_user_id_user_account FOREIGN KEY(user_id) REFERENCES user_account (id) ON DELETE CASCADE, 
	CONSTRAINT fk_oauth_authorization_code_company_id_company FOREIGN KEY(company_id) REFERENCES company (id) ON DELETE CASCADE
);
CREATE TABLE oauth_client (
	id INTEGER NOT NULL, 
	client_id VARCHAR(64) NOT NULL, 
	client_secret_hash VARCHAR(64) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	redirect_uris JSON NOT NULL, 
	scope VARCHAR(200) NOT NULL, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_oauth_client PRIMARY KEY (id), 
	CONSTRAINT uq_oauth_client_client_id UNIQUE (client_id)
);
CREATE TABLE oauth_token (
	id INTEGER NOT NULL, 
	access_token_hash VARCHAR(64) NOT NULL, 
	client_id INTEGER NOT NULL, 
	user_id INTEGER NOT NULL, 
	company_id INTEGER, 
	authorization_code_id INTEGER, 
	scope VARCHAR(200) NOT NULL, 
	issued_at INTEGER NOT NULL, 
	expires_in INTEGER NOT NULL, 
	revoked_at DATETIME, 
	CONSTRAINT pk_oauth_token PRIMARY KEY (id), 
	CONSTRAINT uq_oauth_token_access_token_hash UNIQUE (access_token_hash), 
	CONSTRAINT fk_oauth_token_client_id_oauth_client FOREIGN KEY(client_id) REFERENCES oauth_client (id) ON DELETE CASCADE, 
	CONSTRAINT fk_oauth_token_user_id_user_account FOREIGN KEY(user_id) REFERENCES user_account (id) ON DELETE CASCADE, 
	CONSTRAINT fk_oauth_token_company_id_company FOREIGN KEY(company_id) REFERENCES company (id) ON DELETE CASCADE, 
	CONSTRAINT fk_oauth_token_authorization_code_id_oauth_authorization_code FOREIGN KEY(authorization_code_id) REFERENCES oauth_authorization_code (id) ON DELETE SET NULL
);
CREATE TABLE supplier (
	id INTEGER NOT NULL, 
	company_id INTEGER NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	iban VARCHAR(34) NOT NULL, 
	bic VARCHAR(11), 
	CONSTRAINT pk_supplier PRIMARY KEY (id), 
	CONSTRAINT fk_supplier_company_id_company FOREIGN KEY(company_id) REFERENCES company (id) ON DELETE CASCADE
);
INSERT INTO "supplier" VALUES(1,1,'Minoterie Dupuis','FR7630006000010000000791963','AGRIFRPPXXX');
INSERT INTO "supplier" VALUES(2,1,'Laiterie des Prés','FR7630004008220000001583859','BNPAFRPP');
INSERT INTO "supplier" VALUES(3,1,'EDF Entreprises','FR7610278060390000002375705','CMCIFR2A');
INSERT INTO "supplier" VALUES(4,1,'Emballages Roux','FR7630003029000000003167634','SOGEFRPP');
INSERT INTO "supplier" VALUES(5,2,'Pièces Auto Distribution','FR7617515900000000003959541','CEPAFRPPXXX');
INSERT INTO "supplier" VALUES(6,2,'Pneus Bernard','FR7630002005500000004751481','CRLYFRPPXXX');
INSERT INTO "supplier" VALUES(7,2,'Huiles & Lubrifiants Sud','FR7616606100080000005543350','AGRIFRPP866');
INSERT INTO "supplier" VALUES(8,2,'Outillage Moreau','FR7620041010050000006335211','PSSTFRPP');
INSERT INTO "supplier" VALUES(9,3,'Imprimerie du Centre','FR7630006000010000007127130','AGRIFRPPXXX');
INSERT INTO "supplier" VALUES(10,3,'Traiteur Lambert','FR7630004008220000007919026','BNPAFRPP');
INSERT INTO "supplier" VALUES(11,3,'Location Salles Municipales','FR7610278060390000008710969','CMCIFR2A');
INSERT INTO "supplier" VALUES(12,3,'Papeterie Fournier','FR7630003029000000009502801','SOGEFRPP');
CREATE TABLE supplier_invoice (
	id INTEGER NOT NULL, 
	company_id INTEGER NOT NULL, 
	supplier_id INTEGER NOT NULL, 
	number VARCHAR(60) NOT NULL, 
	issue_date DATE NOT NULL, 
	due_date DATE NOT NULL, 
	amount_cents BIGINT NOT NULL, 
	currency VARCHAR(3) NOT NULL, 
	payment_mode VARCHAR(30) NOT NULL, 
	paid_at DATETIME, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_supplier_invoice PRIMARY KEY (id), 
	CONSTRAINT ck_supplier_invoice_amount_positive CHECK (amount_cents > 0), 
	CONSTRAINT ck_supplier_invoice_due_after_issue CHECK (due_date >= issue_date), 
	CONSTRAINT uq_invoice_number UNIQUE (company_id, supplier_id, number), 
	CONSTRAINT fk_supplier_invoice_company_id_company FOREIGN KEY(company_id) REFERENCES company (id) ON DELETE CASCADE, 
	CONSTRAINT fk_supplier_invoice_supplier_id_supplier FOREIGN KEY(supplier_id) REFERENCES supplier (id)
);
INSERT INTO "supplier_invoice" VALUES(1,1,1,'F-BM-2026-001','2026-11-10','2026-12-10',48650,'EUR','LIBEO',NULL,'2026-11-30 08:51:54.220437','2026-11-30 08:51:54.220447');
INSERT INTO "supplier_invoice" VALUES(2,1,2,'F-BM-2026-002','2026-11-15','2026-12-15',12380,'EUR','LIBEO',NULL,'2026-11-30 08:51:54.220448','2026-11-30 08:51:54.220449');
INSERT INTO "supplier_invoice" VALUES(3,1,3,'F-BM-2026-003-B','2026-11-20','2027-01-04',231475,'EUR','LIBEO',NULL,'2026-11-30 08:51:54.220450','2026-11-30 08:51:55.279929');
INSERT INTO "supplier_invoice" VALUES(4,1,4,'F-BM-2026-004','2026-11-22','2026-12-22',7990,'EUR','LIBEO',NULL,'2026-11-30 08:51:54.220452','2026-11-30 08:51:54.220453');
INSERT INTO "supplier_invoice" VALUES(5,1,1,'F-BM-2026-005','2026-10-21','2026-11-20',95000,'EUR','VIREMENT',NULL,'2026-11-30 08:51:54.220454','2026-11-30 08:51:54.220455');
INSERT INTO "supplier_invoice" VALUES(6,1,2,'F-BM-2026-006','2026-10-26','2026-11-10',3450,'EUR','CHEQUE',NULL,'2026-11-30 08:51:54.220456','2026-11-30 08:51:54.220457');
INSERT INTO "supplier_invoice" VALUES(7,1,3,'F-BM-2026-007','2026-10-01','2026-10-31',18900,'EUR','PRELEVEMENT','2026-11-30 08:51:54.192557','2026-11-30 08:51:54.220458','2026-11-30 08:51:54.220459');
INSERT INTO "supplier_invoice" VALUES(8,1,4,'F-BM-2026-008','2026-11-25','2026-11-25',2599,'EUR','CARTE',NULL,'2026-11-30 08:51:54.220460','2026-11-30 08:51:54.220461');
INSERT INTO "supplier_invoice" VALUES(9,1,1,'F-BM-2026-009','2026-11-27','2026-11-27',1250,'EUR','ESPECES','2026-11-30 08:51:54.192668','2026-11-30 08:51:54.220462','2026-11-30 08:51:54.220463');
INSERT INTO "supplier_invoice" VALUES(10,2,5,'F-GL-2026-001','2026-11-10','2026-12-10',48650,'EUR','LIBEO',NULL,'2026-11-30 08:51:54.220465','2026-11-30 08:51:54.220466');
INSERT INTO "supplier_invoice" VALUES(11,2,6,'F-GL-2026-002','2026-11-15','2026-12-15',12380,'EUR','LIBEO',NULL,'2026-11-30 08:51:54.220467','2026-11-30 08:51:54.220468');
INSERT INTO "supplier_invoice" VALUES(12,2,7,'F-GL-2026-003','2026-11-20','2027-01-04',231475,'EUR','LIBEO',NULL,'2026-11-30 08:51:54.220469','2026-11-30 08:51:54.220470');
INSERT INTO "supplier_invoice" VALUES(13,2,8,'F-GL-2026-004','2026-11-22','2026-12-22',7990,'EUR','LIBEO',NULL,'2026-11-30 08:51:54.220471','2026-11-30 08:51:54.220472');
INSERT INTO "supplier_invoice" VALUES(14,2,5,'F-GL-2026-005','2026-10-21','2026-11-20',95000,'EUR','VIREMENT',NULL,'2026-11-30 08:51:54.220473','2026-11-30 08:51:54.220474');
INSERT INTO "supplier_invoice" VALUES(15,2,6,'F-GL-2026-006','2026-10-26','2026-11-10',3450,'EUR','CHEQUE',NULL,'2026-11-30 08:51:54.220475','2026-11-30 08:51:54.220476');
INSERT INTO "supplier_invoice" VALUES(16,2,7,'F-GL-2026-007','2026-10-01','2026-10-31',18900,'EUR','PRELEVEMENT','2026-11-30 08:51:54.197647','2026-11-30 08:51:54.220477','2026-11-30 08:51:54.220478');
INSERT INTO "supplier_invoice" VALUES(17,2,8,'F-GL-2026-008','2026-11-25','2026-11-25',2599,'EUR','CARTE',NULL,'2026-11-30 08:51:54.220479','2026-11-30 08:51:54.220479');
INSERT INTO "supplier_invoice" VALUES(18,2,5,'F-GL-2026-009','2026-11-27','2026-11-27',1250,'EUR','ESPECES','2026-11-30 08:51:54.197771','2026-11-30 08:51:54.220481','2026-11-30 08:51:54.220481');
INSERT INTO "supplier_invoice" VALUES(19,3,9,'F-AL-2026-001','2026-11-10','2026-12-10',48650,'EUR','LIBEO',NULL,'2026-11-30 08:51:54.220482','2026-11-30 08:51:54.220483');
INSERT INTO "supplier_invoice" VALUES(20,3,10,'F-AL-2026-002','2026-11-15','2026-12-15',12380,'EUR','LIBEO',NULL,'2026-11-30 08:51:54.220484','2026-11-30 08:51:54.220485');
INSERT INTO "supplier_invoice" VALUES(21,3,11,'F-AL-2026-003','2026-11-20','2027-01-04',231475,'EUR','LIBEO',NULL,'2026-11-30 08:51:54.220486','2026-11-30 08:51:54.220487');
INSERT INTO "supplier_invoice" VALUES(22,3,12,'F-AL-2026-004','2026-11-22','2026-12-22',7990,'EUR','LIBEO',NULL,'2026-11-30 08:51:54.220488','2026-11-30 08:51:54.220489');
INSERT INTO "supplier_invoice" VALUES(23,3,9,'F-AL-2026-005','2026-10-21','2026-11-20',95000,'EUR','VIREMENT',NULL,'2026-11-30 08:51:54.220490','2026-11-30 08:51:54.220491');
INSERT INTO "supplier_invoice" VALUES(24,3,10,'F-AL-2026-006','2026-10-26','2026-11-10',3450,'EUR','CHEQUE',NULL,'2026-11-30 08:51:54.220492','2026-11-30 08:51:54.220493');
INSERT INTO "supplier_invoice" VALUES(25,3,11,'F-AL-2026-007','2026-10-01','2026-10-31',18900,'EUR','PRELEVEMENT','2026-11-30 08:51:54.203419','2026-11-30 08:51:54.220494','2026-11-30 08:51:54.220495');
INSERT INTO "supplier_invoice" VALUES(26,3,12,'F-AL-2026-008','2026-11-25','2026-11-25',2599,'EUR','CARTE',NULL,'2026-11-30 08:51:54.220496','2026-11-30 08:51:54.220497');
INSERT INTO "supplier_invoice" VALUES(27,3,9,'F-AL-2026-009','2026-11-27','2026-11-27',1250,'EUR','ESPECES','2026-11-30 08:51:54.203495','2026-11-30 08:51:54.220498','2026-11-30 08:51:54.220499');
CREATE TABLE user_account (
	id INTEGER NOT NULL, 
	email VARCHAR(254) NOT NULL, 
	full_name VARCHAR(200) NOT NULL, 
	password_hash VARCHAR(255) NOT NULL, 
	session_token VARCHAR(64) NOT NULL, 
	accounting_firm_id INTEGER, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_user_account PRIMARY KEY (id), 
	CONSTRAINT uq_user_account_email UNIQUE (email), 
	CONSTRAINT fk_user_account_accounting_firm_id_accounting_firm FOREIGN KEY(accounting_firm_id) REFERENCES accounting_firm (id)
);
INSERT INTO "user_account" VALUES(1,'admin@boulangerie-martin.fr','Claire Martin','scrypt:1024:8:1$CtWPCR92YAlLuwWb$05bebe962e41a11aedf8cc3869bad38338560e97d085786cc20df99de9b96892ea304574e1e9dd215125dd4102f1bd6d0578aebcf4708553ee73ac5c7ff2d9b1','NvLEYSJIUuf1Jp5sTGgMO7syqIHWo7tmsfjOBmAgcro',NULL,'2026-11-30 08:51:54.214398');
INSERT INTO "user_account" VALUES(2,'compta@boulangerie-martin.fr','Julien Petit','scrypt:1024:8:1$AJxWtxSeObwMfnrG$178d15ec51545a8425cdc9dde23b8b84fb5e6f0713aee9f259cc8e66b8ee00b742f716e76dc5ea2bcb3c79121647b6b43e9880affb6490ce802d3f08ec5523c0','DN8huHyR62Od-_acIwbGpm8rw_OtkWmcdQ5VStW7170',NULL,'2026-11-30 08:51:54.214403');
INSERT INTO "user_account" VALUES(3,'gerant@garage-leroy.fr','Marc Leroy','scrypt:1024:8:1$AaHA8SZ2mgghzZrY$f3b0e28a53a3afe19cfcf87d84d4074a0a0507cb9354c8bfc2984ee70881c5d1d7102bb4e5d92ccb99ad6e0461c3b20d54c25d870fc1261b77da559746d47670','5w1hVDIQUPkJSYY-RI3wcrOCNz9dfOymrziwWn1FtX0',NULL,'2026-11-30 08:51:54.214404');
INSERT INTO "user_account" VALUES(4,'president@amis-du-quartier.fr','Sophie Garnier','scrypt:1024:8:1$qb2yFM4tQqz9tifR$a7fa533960d30784f1d4a605b600d6af5104d4957091fad27bc58c4ec7a89f0ef9da4c6c1f5a21945f83211c7bedc5aee199199151bd0f4fb859c9f6ebfe385b','GNnzY-r9Ax40ktqiUk-EdjSoo0BLPSmv9A14iFegsBU',NULL,'2026-11-30 08:51:54.214405');
INSERT INTO "user_account" VALUES(5,'expert@cabinet-durand.fr','Hélène Durand','scrypt:1024:8:1$qnmcU7oq7FdQg86N$1602155ad0f182c1a1a3641e92020e78471a67ef97fa85e1f9c4b16f23ad9e4d804d684d4c6253a051019f9414a261e413fafed6c3e6cfffac7b816a24572701','0Ko6wjh_Go4vZ94Bwfhm1UnxWrhYv5C5V8k34gog2SI',1,'2026-11-30 08:51:54.214407');
CREATE INDEX ix_company_accounting_firm_id ON company (accounting_firm_id);
CREATE INDEX ix_user_account_accounting_firm_id ON user_account (accounting_firm_id);
CREATE INDEX ix_module_role_company_id ON module_role (company_id);
CREATE INDEX ix_supplier_company_name ON supplier (company_id, name);
CREATE INDEX ix_oauth_authorization_code_client_id ON oauth_authorization_code (client_id);
CREATE INDEX ix_invoice_settle ON supplier_invoice (company_id, paid_at, due_date, id);
CREATE INDEX ix_supplier_invoice_supplier_id ON supplier_invoice (supplier_id);
CREATE INDEX ix_invoice_list ON supplier_invoice (company_id, issue_date, id);
CREATE INDEX ix_oauth_token_authorization_code_id ON oauth_token (authorization_code_id);
CREATE INDEX ix_oauth_token_user_id ON oauth_token (user_id);
CREATE INDEX ix_oauth_token_client_id ON oauth_token (client_id);
CREATE INDEX ix_libeo_payment_invoice_status ON libeo_payment (invoice_id, status);
CREATE INDEX ix_libeo_outbox_invoice_id ON libeo_outbox (invoice_id);
CREATE INDEX ix_libeo_outbox_pending ON libeo_outbox (delivered_at, next_attempt_at, id);
COMMIT;
