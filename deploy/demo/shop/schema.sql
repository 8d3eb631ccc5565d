-- The demo shop's database (deploy/demo/shop/): users, the catalogue, stock, orders, payments.
CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT UNIQUE NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE categories (id SERIAL PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE products (
    id SERIAL PRIMARY KEY,
    category_id INT NOT NULL REFERENCES categories(id),
    name TEXT NOT NULL,
    price BIGINT NOT NULL -- KRW
);
CREATE TABLE inventory (product_id INT PRIMARY KEY REFERENCES products(id), stock INT NOT NULL);
CREATE TABLE orders (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL,
    product_id INT NOT NULL REFERENCES products(id),
    quantity INT NOT NULL,
    amount BIGINT NOT NULL,
    status TEXT NOT NULL, -- CREATED, CONFIRMED, PAYMENT_FAILED, CANCELLED
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE payments (
    id BIGSERIAL PRIMARY KEY,
    order_id BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    status TEXT NOT NULL, -- SUCCESS, FAILED
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE notifications (id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, order_id BIGINT);

INSERT INTO categories (name) SELECT 'category-' || g FROM generate_series(1, 8) g;
INSERT INTO products (category_id, name, price)
    SELECT 1 + g % 8, 'product-' || g, 1000 * (1 + g % 50) FROM generate_series(1, 200) g;
INSERT INTO inventory (product_id, stock) SELECT id, 1000000 FROM products;
