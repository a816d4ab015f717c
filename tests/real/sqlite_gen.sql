-- sqlite_gen.sql — builds the test database for poolalloc's sqlite3 check:
-- 10k customers, 1k products, 100k orders, ~250k order lines, all derived
-- from row numbers by integer hashing (no random()), so every run builds the
-- same data. Run as: sqlite3 test.db < sqlite_gen.sql
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -65536;
BEGIN;
CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL, tier INTEGER NOT NULL, joined TEXT NOT NULL);
CREATE TABLE product (id INTEGER PRIMARY KEY, title TEXT NOT NULL, category TEXT NOT NULL, price_cents INTEGER NOT NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customer(id), day TEXT NOT NULL, status TEXT NOT NULL, note TEXT);
CREATE TABLE line (order_id INTEGER NOT NULL REFERENCES orders(id), product_id INTEGER NOT NULL REFERENCES product(id), qty INTEGER NOT NULL, PRIMARY KEY (order_id, product_id)) WITHOUT ROWID;

WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO customer
SELECT i,
       'cust-' || printf('%05d', (i * 7919) % 100003) || '-' || substr('abcdefghijklmnopqrstuvwxyz', 1 + (i * 31) % 26, 1 + (i % 11)),
       json_extract('["Lyon","Oslo","Kyoto","Lima","Pune","Quito","Perth","Graz"]', '$[' || ((i * 2654435761) % 8) || ']'),
       (i * 40503) % 5,
       date('2015-01-01', '+' || ((i * 104729) % 3000) || ' days')
FROM n;

WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO product
SELECT i,
       'product ' || i || ' ' || hex(zeroblob(1 + i % 7)),
       'cat' || ((i * 17) % 23),
       100 + (i * 7561) % 99900
FROM n;

WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO orders
SELECT i,
       1 + (i * 2654435761) % 4294967291 / 13 % 10000,
       date('2020-01-01', '+' || ((i * 48271) % 2147483647 / 7 % 1461) || ' days'),
       CASE (i * 69069) % 10 WHEN 0 THEN 'cancelled' WHEN 1 THEN 'returned' WHEN 2 THEN 'pending' ELSE 'shipped' END,
       CASE WHEN i % 7 = 0 THEN 'gift wrap ' || substr(printf('%x', i * 2246822519), 1, 1 + i % 9)
            WHEN i % 13 = 0 THEN printf('%.*c', 1 + i % 300, 'x')
            ELSE NULL END
FROM n;

WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000),
     k(j) AS (VALUES (0), (1), (2), (3), (4))
INSERT OR IGNORE INTO line
SELECT i, 1 + (i * 2246822519 + j * 3266489917) % 4294967291 / 11 % 1000, 1 + (i * 31 + j * 7) % 1013 % 9
FROM n, k
WHERE j < 1 + (i * 2246822519) % 5;

CREATE INDEX orders_customer ON orders(customer_id, day);
CREATE INDEX orders_day ON orders(day, status);
CREATE INDEX line_product ON line(product_id, qty);
CREATE INDEX customer_city ON customer(city, tier);
COMMIT;
ANALYZE;
