-- shop.sql — the sqlite3 half of poolalloc's demo: builds an in-memory shop
-- database (10,000 customers, 1,000 products, 100,000 orders, ~300,000 order
-- lines; deterministic data) with indexes, then runs a sales report with joins,
-- GROUP BY, window functions and ORDER BY. Run: sqlite3 :memory: < shop.sql
PRAGMA cache_size = -65536;
CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT, city TEXT, tier INTEGER);
CREATE TABLE product (id INTEGER PRIMARY KEY, title TEXT, category TEXT, price_cents INTEGER);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, day TEXT, status TEXT);
CREATE TABLE line (order_id INTEGER, product_id INTEGER, qty INTEGER, PRIMARY KEY (order_id, product_id)) WITHOUT ROWID;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO customer SELECT i, 'customer-' || i,
       json_extract('["Lyon","Oslo","Kyoto","Lima","Pune","Quito","Perth","Graz"]', '$[' || ((i * 2654435761) % 4294967291 / 7 % 8) || ']'),
       (i * 40503) % 4294967291 / 3 % 4 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO product SELECT i, 'product ' || i,
       json_extract('["books","garden","kitchen","toys","music","sports"]', '$[' || ((i * 17) % 6) || ']'),
       199 + (i * 7561) % 4294967291 / 5 % 20000 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO orders SELECT i, 1 + (i * 2654435761) % 4294967291 / 13 % 10000,
       date('2023-01-01', '+' || ((i * 48271) % 2147483647 / 7 % 365) || ' days'),
       CASE (i * 69069) % 4294967291 / 3 % 20 WHEN 0 THEN 'returned' WHEN 1 THEN 'cancelled' ELSE 'shipped' END FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000),
     k(j) AS (VALUES (0), (1), (2), (3), (4))
INSERT OR IGNORE INTO line SELECT i, 1 + (i * 2246822519 + j * 3266489917) % 4294967291 / 11 % 1000, 1 + (i * 31 + j * 7) % 1013 % 4
FROM n, k WHERE j < 1 + (i * 2246822519) % 4294967291 / 3 % 5;
COMMIT;
CREATE INDEX orders_customer ON orders(customer_id);
CREATE INDEX line_product ON line(product_id);

.print "database: 10000 customers, 1000 products, 100000 orders"
SELECT count(*) || ' order lines' FROM line;
.headers on
.mode column
.print ""
.print "Sales by city (shipped orders)"
SELECT c.city, count(DISTINCT o.id) AS orders, printf('%.2f', sum(l.qty * p.price_cents) / 100.0) AS revenue,
       printf('%.2f', sum(l.qty * p.price_cents) / 100.0 / count(DISTINCT o.id)) AS avg_order
FROM customer c JOIN orders o ON o.customer_id = c.id JOIN line l ON l.order_id = o.id JOIN product p ON p.id = l.product_id
WHERE o.status = 'shipped' GROUP BY c.city ORDER BY sum(l.qty * p.price_cents) DESC;
.print ""
.print "Best month per category"
SELECT category, month, printf('%.2f', revenue / 100.0) AS revenue FROM (
  SELECT p.category, substr(o.day, 1, 7) AS month, sum(l.qty * p.price_cents) AS revenue,
         rank() OVER (PARTITION BY p.category ORDER BY sum(l.qty * p.price_cents) DESC) AS rk
  FROM orders o JOIN line l ON l.order_id = o.id JOIN product p ON p.id = l.product_id
  WHERE o.status = 'shipped' GROUP BY p.category, month)
WHERE rk = 1 ORDER BY category;
.print ""
.print "Top 5 customers"
SELECT c.name, c.city, count(DISTINCT o.id) AS orders, printf('%.2f', sum(l.qty * p.price_cents) / 100.0) AS spent
FROM customer c JOIN orders o ON o.customer_id = c.id JOIN line l ON l.order_id = o.id JOIN product p ON p.id = l.product_id
WHERE o.status = 'shipped' GROUP BY c.id ORDER BY sum(l.qty * p.price_cents) DESC, c.id LIMIT 5;
